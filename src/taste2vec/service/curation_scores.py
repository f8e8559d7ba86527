"""The recommender's view of a subscriber for the curation optimiser (issue 13).

:class:`ServiceScorer` answers what :class:`taste2vec.curation.run.Scorer` asks: every
coffee's score for a subscriber from the live recommender (the same user model and score
as ``GET /v1/users/{id}/recommendations``, over the whole catalogue), the sentence the
recommender gives for it, each coffee's main flavour family, and the subscriber's own top
families (their taste profile). Coffees the subscriber already reacted to are not
scored: the recommender never offers them again, and neither does the box.
:func:`curate_month` runs a month's curation with it (the CLI and the API call it).
"""

from __future__ import annotations

from collections.abc import Mapping

from taste2vec.curation.run import CurationSettings, Progress, curate
from taste2vec.service.core import TasteService
from taste2vec.store import CurationRun

HOME_FAMILIES = 3


class ServiceScorer:
    """Scores, reasons and families from a :class:`TasteService`."""

    def __init__(self, service: TasteService, home_families: int = HOME_FAMILIES) -> None:
        self.service = service
        self.n_home = home_families
        self._family: dict[str, str | None] = {}

    def scores(self, user: str, n_coffees: int) -> Mapping[str, tuple[float, str]]:
        """Coffee id -> (score, the recommender's reason) for up to ``n_coffees`` coffees."""
        out: dict[str, tuple[float, str]] = {}
        for rec in self.service.recommend(user, max(1, n_coffees)):
            families = rec.reasons.get("families") or []
            self._family[rec.coffee_id] = str(families[0]) if families else None
            out[rec.coffee_id] = (float(rec.score), rec.explanation)
        return out

    def coffee_family(self, coffee: str) -> str | None:
        """The coffee's main flavour family (known once any subscriber was scored)."""
        return self._family.get(coffee)

    def home_families(self, user: str) -> list[str]:
        """The subscriber's top flavour families (empty for a user with no taste yet)."""
        profile = self.service.profile(user)
        if profile is None:
            return []
        return [family for family, _ in profile.top_families[: self.n_home]]


def curate_month(
    service: TasteService,
    month: str,
    settings: CurationSettings | None = None,
    progress: Progress | None = None,
) -> CurationRun:
    """Curate ``month`` for every active subscriber with the service's recommender and
    store it as the month's draft (:func:`taste2vec.curation.run.curate`)."""
    return curate(service.store, ServiceScorer(service), month, settings, progress)
