"""Per-source metric scaling (issue 10): each source standardised on its own scale."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from taste2vec.model.scaler import APP_SCALE, MetricScaler, record_source
from taste2vec.schema import METRIC_NAMES, Metrics, TasteRecord

AROMA = METRIC_NAMES.index("aroma")


def _fitted() -> MetricScaler:
    rng = np.random.default_rng(0)
    n = 300
    values = np.zeros((n, 20), dtype=np.float32)
    mask = np.zeros_like(values)
    sources = ["coffeereview"] * 100 + ["cqi"] * 100 + [APP_SCALE] * 100
    values[:100, AROMA] = rng.normal(8.8, 0.4, 100)
    values[100:200, AROMA] = rng.normal(7.6, 0.3, 100)
    values[200:, AROMA] = rng.normal(5.0, 2.0, 100)
    mask[:, AROMA] = 1.0
    return MetricScaler.fit_by_source(values, mask, sources)


def test_each_source_gets_its_own_statistics() -> None:
    sc = _fitted()
    assert sc.scale("coffeereview").mean[AROMA] == pytest.approx(8.8, abs=0.1)
    assert sc.scale("cqi").mean[AROMA] == pytest.approx(7.6, abs=0.1)
    assert sc.mean[AROMA] == pytest.approx(5.0, abs=0.5)  # the default is the app scale
    assert sc.scale("cqi").std[AROMA] == pytest.approx(0.3, abs=0.05)
    # the same value is a high score for CQI and an average one for Coffee Review
    values = np.full((2, 20), 8.8, dtype=np.float32)
    z = sc.transform(values, np.ones_like(values), ["coffeereview", "cqi"])
    assert abs(z[0, AROMA]) < 0.3 and z[1, AROMA] > 3


def test_inverse_returns_points_on_the_requested_scale() -> None:
    sc = _fitted()
    z = np.zeros((1, 20), dtype=np.float32)
    cr = sc.inverse(z, source="coffeereview")[0, AROMA]
    cqi = sc.inverse(z, source="cqi")[0, AROMA]
    app = sc.inverse(z)[0, AROMA]
    assert cr == pytest.approx(sc.scale("coffeereview").mean[AROMA])
    assert cqi == pytest.approx(sc.scale("cqi").mean[AROMA])
    assert app == pytest.approx(sc.mean[AROMA])
    # round trip on each source's scale
    values = np.array([[8.5] * 20, [7.9] * 20], dtype=np.float32)
    for i, source in enumerate(["coffeereview", "cqi"]):
        zz = sc.transform(values[i : i + 1], np.ones((1, 20)), [source])
        back = sc.inverse(zz[:, [AROMA]], [AROMA], source=source)
        assert back[0, 0] == pytest.approx(values[i, AROMA], abs=1e-4)


def test_unobserved_metric_and_unknown_source_fall_back() -> None:
    sc = _fitted()
    j = METRIC_NAMES.index("water_temp_c")
    assert sc.scale("coffeereview").mean[j] == pytest.approx(50.0)  # midpoint of 0-100
    assert np.array_equal(sc.scale("somebody").mean, sc.mean)
    with pytest.raises(ValueError, match="unknown sources"):
        MetricScaler.fit_by_source(np.zeros((1, 20)), np.zeros((1, 20)), ["nope"])


def test_record_source_uses_the_loaders_user_ids() -> None:
    assert record_source(TasteRecord(id="1", user="coffeereview")) == "coffeereview"
    assert record_source(TasteRecord(id="1", user="cqi")) == "cqi"
    assert record_source(TasteRecord(id="1", user="demo-ana", metrics=Metrics())) == APP_SCALE


def test_save_load_round_trip_keeps_every_source(tmp_path: Path) -> None:
    sc = _fitted()
    sc.save(tmp_path / "scaler.json")
    payload = json.loads((tmp_path / "scaler.json").read_text())
    # the top level stays the app scale (the edge runtime reads only that)
    assert payload["scale"] == APP_SCALE and len(payload["mean"]) == 20
    assert set(payload["sources"]) == {"coffeereview", "cqi"}
    loaded = MetricScaler.load(tmp_path / "scaler.json")
    for source in ("coffeereview", "cqi", APP_SCALE):
        np.testing.assert_array_equal(loaded.scale(source).mean, sc.scale(source).mean)
        np.testing.assert_array_equal(loaded.scale(source).std, sc.scale(source).std)
