"""The taster's recommendations page is served per experiment arm, like the JSON route:
a treatment user's list comes from the treatment model, and its ``recommendation_shown``
event carries the experiment, the arm and the model version (issue 12)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from taste2vec.experiments.assignment import arm_of
from taste2vec.model.taste2vec import Taste2Vec
from taste2vec.registry import ModelRegistry
from taste2vec.service.arms import ArmRouter
from tests.model_copies import perturbed_copy
from tests.ui.test_ui_http import _sign_in


def test_the_recommendations_page_is_ranked_by_the_users_arm(
    ui_client: Any, tiny_model_dir: Path, tmp_path: Path, minilm: Any
) -> None:
    service = ui_client.app.state.service
    store = service.store
    registry = ModelRegistry(
        f"sqlite:///{tmp_path / 'mlflow.db'}", store, name="ui-arms", cache_dir=tmp_path / "c"
    )
    v1, _ = registry.register(tiny_model_dir, actor="ci")
    v2, _ = registry.register(perturbed_copy(tiny_model_dir, tmp_path / "v2"), actor="ci")
    registry.promote(v1.version, actor="ci")
    salt = next(f"s{i}" for i in range(1000) if arm_of(f"s{i}", "demo-ana", 0.5) == "treatment")
    exp = store.create_experiment(
        experiment_id="ui-arms",
        model_name="ui-arms",
        control_version=v1.version,
        treatment_version=v2.version,
        treatment_share=0.5,
        salt=salt,
        config={},
        created_by="ci",
    )

    def load(path: Path) -> Taste2Vec:
        return Taste2Vec.load(path, text_encoder=minilm)

    router = ArmRouter(service, registry, load)
    router.sync_once()
    assert router.treatment is not None
    served: list[list[str]] = []
    real = router.treatment.engine.recommend

    def treatment_ranking(*args: Any, **kwargs: Any) -> Any:
        items = real(*args, **kwargs)
        served.append([r.coffee_id for r in items])
        return items

    router.treatment.engine.recommend = treatment_ranking  # type: ignore[method-assign]
    shown: list[dict[str, Any]] = []
    emit = service.recommendation_shown

    def capture(user: str, coffees: Any, *args: Any, **kwargs: Any) -> str:
        shown.append({"user": user, "coffees": list(coffees), **kwargs})
        return str(emit(user, coffees, *args, **kwargs))

    service.recommendation_shown = capture
    service.arms = router
    try:
        _sign_in(ui_client, "demo-ana")
        page = ui_client.get("/u/demo-ana/recommendations")
        assert page.status_code == 200
        assert len(served) == 1  # ranked by the treatment model
        [event] = shown
        assert event["coffees"] == served[0]
        assert (event["experiment"], event["arm"]) == (exp.id, "treatment")
        assert event["model_version"] == v2.weights_version
        counts = router.request_counts()
        assert counts[(exp.id, "treatment")].requests == 1  # the guardrails' input too
    finally:
        service.arms = None
        del service.recommendation_shown
        store.transition_experiment(exp.id, expected=("running",), status="stopped")
