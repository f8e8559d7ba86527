"""The Taste2Vec recommender behind the Recommender seam, in the quality harness."""

from __future__ import annotations

from taste2vec.data.demo import demo_feedback, load_demo_catalogue
from taste2vec.model.taste2vec import Taste2Vec
from taste2vec.recommend.protocol import Recommender, check_recommendations
from taste2vec.sim.recommend.taste2vec_recommender import Taste2VecRecommender
from taste2vec.sim.subscribers import HarnessConfig, catalogue_from_coffees, evaluate


def test_contract_on_demo_data(rec_model: Taste2Vec) -> None:
    catalogue, feedback = load_demo_catalogue(), demo_feedback()
    rec = Taste2VecRecommender(rec_model)
    assert isinstance(rec, Recommender)
    rec.fit(catalogue, feedback)
    ids = {c.id for c in catalogue}
    for user in sorted({f.user for f in feedback}) + ["someone-new"]:
        exclude = {f.coffee for f in feedback if f.user == user}
        got = rec.recommend(user, 10, exclude)
        check_recommendations(rec.name, got, 10, exclude, ids)
        assert len(got) == 10
    engine = rec.engine
    rec.fit(catalogue, [])  # same catalogue: the engine is reused, the crowd is forgotten
    assert engine is not None and rec.engine is engine
    assert engine.snapshot.population is None
    assert rec.recommend("demo-ana", 3, set()) == rec.recommend("someone-new", 3, set())


def test_runs_in_the_harness(rec_model: Taste2Vec) -> None:
    catalogue = catalogue_from_coffees(load_demo_catalogue(), name="demo")
    config = HarnessConfig(n_users=20, checkpoints=(0, 20), seed=5)
    results = evaluate([Taste2VecRecommender(rec_model)], catalogue, config)
    for slice_ in ("n=0", "n=20", "cold"):
        row = results.get(slice_, "taste2vec")
        assert 0.0 <= row.ndcg <= 1.0 and row.users_scored > 0
