"""Recommendation quality on SIMULATED subscribers: NDCG@10 / Recall@10 as feedback grows.

    .venv/bin/python bench/recommend_quality.py [--data-dir ../shared/datasets] [--users 200]

Runs :func:`taste2vec.simulation.evaluate` (protocol in its docstring) with the baselines
on the bundled demo catalogue and, when the research data directory exists, on the Coffee
Review catalogue (one coffee per roaster and name). The subscribers are simulated: their
hidden tastes are explicit and documented in :mod:`taste2vec.simulation`, and only their
feedback reaches the recommenders. Writes the ``recommend_quality`` section of
``bench/RESULTS.md``.

When a trained model exists at ``--model`` (default ``artifacts/model``), the Taste2Vec
recommender (:class:`~taste2vec.recommend.taste2vec_recommender.Taste2VecRecommender`, the
engine with closed-form user vectors) is evaluated next to the baselines: once with the
engine's defaults (30-day half-life) and once without recency decay (the simulated tastes
never change, and the harness spaces feedback one day apart). To compare another
recommender, call :func:`run` with it added to :func:`baselines`.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path

from tqdm import tqdm

from taste2vec.config import Settings
from taste2vec.data.coffeereview import load_reviews
from taste2vec.data.demo import load_demo_catalogue
from taste2vec.errors import MissingExtraError
from taste2vec.evaluation.report import update_section
from taste2vec.recommend.baselines import (
    ALSRecommender,
    ItemKNNRecommender,
    PopularityRecommender,
    RandomRecommender,
)
from taste2vec.recommend.protocol import Recommender
from taste2vec.simulation import (
    HarnessConfig,
    QualityResults,
    SimCatalogue,
    catalogue_from_coffees,
    catalogue_from_reviews,
    evaluate,
    render_markdown,
)


def taste2vec_recommenders(model_dir: Path) -> tuple[list[Recommender], list[str]]:
    """The Taste2Vec recommenders when a trained model is at ``model_dir``."""
    if not (model_dir / "config.json").exists():
        return [], [f"taste2vec skipped: no trained model at {model_dir} (run `make train`)."]
    from taste2vec.model.taste2vec import Taste2Vec
    from taste2vec.recommend.taste2vec_recommender import Taste2VecRecommender
    from taste2vec.recommend.user_state import UserVectorConfig

    model = Taste2Vec.load(model_dir)
    no_decay = UserVectorConfig(half_life_days=1e9)
    return [
        Taste2VecRecommender(model),
        Taste2VecRecommender(model, name="taste2vec (no decay)", config=no_decay),
    ], []


def baselines(seed: int = 0) -> tuple[list[Recommender], list[str]]:
    """The baseline recommenders, and notes on any that could not be built."""
    recs: list[Recommender] = [
        RandomRecommender(seed),
        PopularityRecommender(),
        ItemKNNRecommender(),
    ]
    notes = []
    try:
        recs.append(ALSRecommender(seed=seed))
    except MissingExtraError as exc:
        notes.append(f"implicit-als skipped: {exc}")
    return recs, notes


def run(
    recommenders: Sequence[Recommender],
    catalogue: SimCatalogue,
    config: HarnessConfig | None = None,
    progress: bool = True,
) -> QualityResults:
    """Evaluate ``recommenders`` on SIMULATED subscribers over ``catalogue``."""
    config = config or HarnessConfig()
    steps = (len(config.checkpoints) + 1) * len(recommenders)
    with tqdm(total=steps, desc=catalogue.name, disable=not progress, leave=False) as bar:

        def step(slice_: str, name: str) -> None:
            bar.set_postfix_str(f"{slice_} {name}")
            bar.update()

        return evaluate(recommenders, catalogue, config, on_step=step)


def catalogues(data_dir: Path | None) -> list[SimCatalogue]:
    """The demo catalogue, plus Coffee Review when ``data_dir`` is set."""
    out = [catalogue_from_coffees(load_demo_catalogue(), name="bundled demo catalogue")]
    if data_dir is not None:
        out.append(catalogue_from_reviews(load_reviews(data_dir), name="Coffee Review"))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--data-dir", type=Path, default=None)
    parser.add_argument("--users", type=int, default=HarnessConfig.n_users)
    parser.add_argument("--seed", type=int, default=HarnessConfig.seed)
    parser.add_argument("--results", type=Path, default=Path("bench/RESULTS.md"))
    parser.add_argument("--model", type=Path, default=Path("artifacts/model"))
    args = parser.parse_args()
    config = HarnessConfig(n_users=args.users, seed=args.seed)
    recs, notes = baselines()
    ours, ours_notes = taste2vec_recommenders(args.model)
    recs, notes = [*ours, *recs], [*ours_notes, *notes]
    data_dir = args.data_dir or Settings().data_dir
    tables = [render_markdown(run(recs, cat, config)) for cat in catalogues(data_dir)]
    if data_dir is None:
        notes.append("Coffee Review catalogue skipped: no data directory configured.")
    text = (
        "## Recommendation quality (SIMULATED subscribers)\n\n"
        "Command: `.venv/bin/python bench/recommend_quality.py`. The subscribers are "
        "simulated (`taste2vec.simulation`): hidden tastes over flavour families and sensory "
        "dimensions, noisy feedback on real catalogue coffees revealed in random order; "
        "recommenders see only the feedback. Relevant = the subscriber's top 10% of the "
        f"catalogue by noiseless utility, minus coffees already tasted. Top {config.k}; "
        "Recall is over min(k, relevant). Baseline: popularity (ratio column); at 0 feedback "
        "popularity has nothing to count and ranks by coffee id (as do the models falling back "
        "on it), so that row "
        "is chance. Numbers move when the lexicon "
        "changes (it sets each coffee's flavour families). The issue's target is to beat "
        "popularity, item-kNN and implicit ALS at every checkpoint. `taste2vec` is the "
        "recommendation engine (`taste2vec.recommend.engine`) with closed-form user vectors "
        "(30-day half-life, item prior weight 0.5: chosen on seed 99, never on this seed); "
        "`taste2vec (no decay)` is the same without recency decay. Both see only the "
        f"catalogue and the feedback; model `{args.model}`.\n\n"
        + "\n".join(tables)
        + "".join(f"\n{n}\n" for n in notes)
    )
    print(text)
    update_section(args.results, "recommend_quality", text)


if __name__ == "__main__":
    main()
