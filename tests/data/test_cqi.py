"""CQI loader on the bundled copy (and, when present, the ../shared original)."""

from __future__ import annotations

import filecmp
import math
import shutil
from pathlib import Path

import pandas as pd
import pytest

from taste2vec.data import cqi as cq
from taste2vec.errors import DataError
from taste2vec.schema.records import Process

ARABICA_2018, ROBUSTA_2018, ARABICA_2023 = cq.SOURCES


def row(frame: pd.DataFrame, cqi_id: str) -> pd.Series:
    return frame.set_index("cqi_id").loc[cqi_id]


def test_counts_and_broken_rows(cqi: pd.DataFrame) -> None:
    assert tuple(cqi.columns) == cq.CQI_COLUMNS
    assert cqi["source"].value_counts().to_dict() == {
        ARABICA_2018: 1310,  # 1,311 minus the row whose scores are all 0
        ARABICA_2023: 207,
        ROBUSTA_2018: 28,
    }
    assert cqi.attrs["dropped"] == {ARABICA_2018: 1, ROBUSTA_2018: 0, ARABICA_2023: 0}
    assert "cqi:2018-arabica:1312" not in set(cqi["cqi_id"])  # total 0
    assert (cqi["total_cup_points"] > 0).all()
    assert not (cqi[list(cq.SENSORY)] == 0).all(axis=1).any()
    assert cqi["cqi_id"].is_unique


def test_vocabularies_unified(cqi: pd.DataFrame) -> None:
    for source, part in cqi.groupby("source"):
        for column in (*cq.SENSORY, "total_cup_points", "grading_date"):
            assert part[column].notna().all(), (source, column)
        assert part[list(cq.SENSORY)].le(10).all().all()
    assert set(cqi["species"]) == {"arabica", "robusta"}
    first_2023 = row(cqi, "cqi:2023-arabica:0")  # "Overall" in 2023 is "Cupper.Points" in 2018
    assert first_2023["overall"] == 8.58 and first_2023["total_cup_points"] == 89.33
    assert row(cqi, "cqi:2018-arabica:1")["overall"] == 8.75


def test_robusta_mapping(cqi: pd.DataFrame) -> None:
    first = row(cqi, "cqi:2018-robusta:1")
    assert first["aroma"] == 7.83  # Fragrance...Aroma
    assert first["acidity"] == 7.92  # Salt...Acid
    assert first["sweetness"] == 8.0  # Bitter...Sweet
    assert first["body"] == 8.25  # Mouthfeel
    assert first["uniformity"] == 10.0  # Uniform.Cup
    assert first["overall"] == 8.0 and first["country"] == "Uganda"


def test_altitude_cleaning(cqi: pd.DataFrame) -> None:
    low, high = cq.ALTITUDE_RANGE_M
    assert cqi["altitude_m"].dropna().between(low, high).all()
    assert cqi["altitude_m"].notna().mean() > 0.8
    assert math.isnan(row(cqi, "cqi:2018-arabica:897")["altitude_m"])  # 190,164 m
    assert math.isnan(row(cqi, "cqi:2018-arabica:544")["altitude_m"])  # "11000 metros"
    assert row(cqi, "cqi:2018-robusta:6")["altitude_m"] == pytest.approx(914.4)  # "3000'"
    assert row(cqi, "cqi:2023-arabica:0")["altitude_m"] == 1815.0  # "1700-1930"
    assert row(cqi, "cqi:2018-arabica:1")["altitude_m"] == 2075.0  # "1950-2200"


def test_process_country_moisture(cqi: pd.DataFrame) -> None:
    assert set(cqi["process"].dropna()) <= {p.value for p in Process}
    assert row(cqi, "cqi:2023-arabica:0")["process"] == "anaerobic"  # Double Anaerobic Washed
    assert row(cqi, "cqi:2018-arabica:1")["process"] == "washed"  # Washed / Wet
    countries = set(cqi["country"].dropna())
    assert {"Tanzania", "Côte d'Ivoire", "United States (Hawaii)"} <= countries
    assert "Tanzania, United Republic Of" not in countries
    moisture = cqi.groupby("source")["moisture"].median()
    assert moisture.between(9, 13).all()  # 2018 fractions became percent


def test_normalise_process() -> None:
    cases = {
        "Washed / Wet": "washed",
        "Natural / Dry": "natural",
        "Pulped natural / honey": "honey",
        "Honey,Mossto": "honey",
        "Double Carbonic Maceration / Natural": "anaerobic",
        "Anaerobico 1000h": "anaerobic",
        "Wet Hulling": "wet-hulled",
        "SEMI-LAVADO": "honey",
        "Other": "other",
    }
    for raw, expected in cases.items():
        assert cq.normalise_process(raw) == expected, raw
    assert cq.normalise_process("Semi-washed / Semi-pulped", "Indonesia") == "wet-hulled"
    assert cq.normalise_process(None) is None and cq.normalise_process("  ") is None


def test_cqi_to_record(cqi: pd.DataFrame) -> None:
    records = [cq.cqi_to_record(r) for _, r in cqi.iterrows()]
    assert len(records) == len(cqi)
    first = records[0]
    assert first.id == "cqi:2018-arabica:1" and first.user == "cqi"
    assert first.notes == "Washed arabica from Guji-Hambela, Ethiopia, grown at 2,075 m."
    assert first.metrics.observed().keys() == set(cq.SENSORY)
    assert first.metrics.roast_agtron is None and first.timestamp.year == 2015
    assert all(r.notes.endswith(".") for r in records)
    assert all(ord(ch) <= 0x024F for r in records for ch in r.notes)  # Latin script only


def test_describe_formats_a_sentence() -> None:
    lot = {
        "process": "washed",
        "variety": "Caturra",
        "region": "Huila",
        "country": "Colombia",
        "altitude_m": 1700.0,
        "species": "arabica",
    }
    assert cq.describe(lot) == "Washed Caturra from Huila, Colombia, grown at 1,700 m."
    assert cq.describe({"species": "robusta", "country": "Uganda"}) == "Robusta from Uganda."


def test_data_dir_and_errors(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="T2V_DATA_DIR"):
        cq.load_cqi(tmp_path / "missing")
    folder = tmp_path / "cqi"
    shutil.copytree(cq.BUNDLED_DIR, folder)
    frame = pd.read_csv(folder / ARABICA_2023)
    frame.drop(columns=["Overall"]).to_csv(folder / ARABICA_2023, index=False)
    with pytest.raises(DataError, match="Overall") as info:
        cq.load_cqi(tmp_path)
    assert ARABICA_2023 in str(info.value)


def test_bundled_copy_matches_shared(datasets_dir: Path, cqi: pd.DataFrame) -> None:
    for name in (*cq.SOURCES, "LICENSE_2018", "LICENSE_2023"):
        assert filecmp.cmp(cq.BUNDLED_DIR / name, datasets_dir / "cqi" / name, shallow=False)
    assert (cq.BUNDLED_DIR / "NOTICE.md").is_file()
    pd.testing.assert_frame_equal(cq.load_cqi(datasets_dir), cqi)
