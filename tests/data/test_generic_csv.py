"""The generic catalogue / tasting-log CSV format (docs/data-formats.md)."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest

from taste2vec.data import generic_csv as g
from taste2vec.errors import DataError, SchemaError
from taste2vec.schema.metrics import METRIC_NAMES
from taste2vec.schema.records import Coffee, Context, Metrics, TasteRecord

DOCS = Path(__file__).resolve().parents[2] / "docs" / "data-formats.md"


def coffees() -> list[Coffee]:
    full = {name: float(i % 9) + 0.25 for i, name in enumerate(METRIC_NAMES)}
    full |= {"grind_size_um": 650.0, "brew_ratio": 16.5, "brew_time_s": 210.0, "dose_g": 18.0}
    return [
        Coffee(
            id="c-001",
            name='Huila "Castillo", lot 7',
            roaster="Blue Door Roasters",
            origin_country="Colombia",
            region="Huila",
            process="washed",
            variety=["Castillo", "Caturra"],
            roast_level="medium-light",
            roaster_notes="Red apple, caramel.\nSecond line, with a comma.",
            descriptors=["red apple", "caramel", "밀크초콜릿"],
            metrics=Metrics(**full),
            stock=40,
        ),
        Coffee(id="c-002", name="Minimal"),
        Coffee(id="c-003", name="Half", metrics=Metrics(acidity=0.1 + 0.2, body=0.0)),
    ]


def tastings() -> list[TasteRecord]:
    seoul = timezone(timedelta(hours=9))
    return [
        TasteRecord(
            id="t-1",
            user="u-17",
            coffee="c-001",
            timestamp=datetime(2024, 5, 1, 8, 30, 15, 123456, tzinfo=seoul),
            notes='산미가 좋고 "juicy", 사과 향',
            metrics=Metrics(acidity=7.0, sweetness=6.5, water_temp_c=93.0, brew_ratio=16.0),
            context=Context(
                hour=8,
                weekday=2,
                weather_temp_c=-3.5,
                humidity_pct=40.0,
                mood=7.0,
                stress=2.0,
                energy=6.0,
                hunger=3.0,
                social_setting="alone",
                location_type="home",
            ),
        ),
        TasteRecord(id="t-2", user="u-17", timestamp=datetime(2024, 5, 2, tzinfo=UTC)),
        TasteRecord(
            id="t-3",
            user="u-9",
            timestamp=datetime(2024, 5, 3, 7, 0, tzinfo=UTC),
            context=Context(social_setting="friends"),
        ),
    ]


def write(path: Path, text: str, bom: bool = False) -> Path:
    path.write_bytes(("\ufeff" if bom else "").encode() + text.encode("utf-8"))
    return path


def test_catalogue_round_trip(tmp_path: Path) -> None:
    path = tmp_path / "catalogue.csv"
    g.write_catalogue_csv(coffees(), path)
    assert g.read_catalogue_csv(path) == coffees()
    header = path.read_text(encoding="utf-8").splitlines()[0].split(",")
    assert tuple(header) == g.CATALOGUE_COLUMNS


def test_tastings_round_trip(tmp_path: Path) -> None:
    path = tmp_path / "tastings.csv"
    g.write_tastings_csv(tastings(), path)
    back = g.read_tastings_csv(path)
    assert back == tastings()
    assert back[1].context is None and back[1].metrics.acidity is None
    assert "ctx_social_setting" in path.read_text(encoding="utf-8").splitlines()[0]


def test_bom_enum_case_and_empty_cells(tmp_path: Path) -> None:
    text = (
        "id,name,process,roast_level,variety,acidity,body\n"
        "c1,Guji,Natural,Medium Light, Heirloom ; 74110 ;,8,\n"
    )
    (coffee,) = g.read_catalogue_csv(write(tmp_path / "c.csv", text, bom=True))
    assert coffee.process == "natural" and coffee.roast_level == "medium-light"
    assert coffee.variety == ["Heirloom", "74110"]
    assert coffee.metrics.acidity == 8.0 and coffee.metrics.body is None  # empty = missing


def test_bad_rows_name_row_and_field(tmp_path: Path) -> None:
    text = (
        "id,user,timestamp,acidity,ctx_social_setting\n"
        "t1,u1,2024-05-01,11,alone\n"  # row 2: out of range
        "t2,u1,2024-05-01,5,crowd\n"  # row 3: bad enum
        ",u1,2024-05-01,5,\n"  # row 4: missing id
        "t1,u1,2024-05-01,5,\n"  # row 5: duplicate id
        "t5,u1,2024-05-01,5,\n"  # row 6: fine
    )
    with pytest.raises(SchemaError) as info:
        g.read_tastings_csv(write(tmp_path / "t.csv", text))
    message = str(info.value)
    assert "4 invalid row(s)" in message
    assert re.search(r"row 2: acidity: .*less than or equal to 10", message)
    assert re.search(r"row 3: ctx_social_setting: .*'alone'", message)
    assert "row 4: id: is required" in message
    assert "row 5: id: duplicate id 't1' (first used on row 2)" in message
    assert "row 6" not in message
    assert ("row 2: acidity", info.value.errors[0][1]) == info.value.errors[0]


def test_bad_catalogue_enum(tmp_path: Path) -> None:
    text = "id,name,process\nc1,A,washed\nc2,B,burnt\n"
    with pytest.raises(SchemaError, match=r"row 3: process: Input should be 'washed'"):
        g.read_catalogue_csv(write(tmp_path / "c.csv", text))


def test_check_catalogue_keeps_good_rows_and_lists_every_bad_one(tmp_path: Path) -> None:
    text = (
        "id,name,stock,acidity\n"
        "c1,A,3,7\n"  # fine
        "c2,B,-1,7\n"  # row 3: stock out of range
        "c1,A again,3,\n"  # row 4: duplicate id (the earlier row stays good)
        "c4,D,2,11\n"  # row 5: acidity out of range
        "c5,E,,\n"  # fine
    )
    path = write(tmp_path / "c.csv", text)
    coffees, bad = g.check_catalogue_csv(path)
    assert [c.id for c in coffees] == ["c1", "c5"]
    assert [n for n, _ in bad] == [3, 4, 5]
    problems = {n: dict(p) for n, p in bad}
    assert "greater than or equal to 0" in problems[3]["stock"]
    assert problems[4]["id"] == "duplicate id 'c1' (first used on row 2)"
    assert "less than or equal to 10" in problems[5]["acidity"]
    with pytest.raises(SchemaError) as info:  # the strict reader: same rows, same words
        g.read_catalogue_csv(path)
    assert [f for f, _ in info.value.errors] == ["row 3: stock", "row 4: id", "row 5: acidity"]
    with pytest.raises(SchemaError, match="unknown column"):  # the header still refuses
        g.check_catalogue_csv(write(tmp_path / "h.csv", "id,name,colour\nc1,A,red\n"))


def test_unknown_and_missing_columns(tmp_path: Path) -> None:
    text = "id,user,timestamp,acidty\nt1,u1,2024-05-01,5\n"
    with pytest.raises(SchemaError, match=r"unknown column\(s\) \['acidty'\]") as info:
        g.read_tastings_csv(write(tmp_path / "t.csv", text))
    assert "Allowed columns: id, user, coffee, timestamp" in str(info.value)
    assert "acidity" in str(info.value)
    with pytest.raises(SchemaError, match=r"required column\(s\) \['timestamp'\]"):
        g.read_tastings_csv(write(tmp_path / "t2.csv", "id,user\nt1,u1\n"))


def test_at_most_twenty_rows_reported(tmp_path: Path) -> None:
    rows = "".join(f"c{i},,\n" for i in range(25))
    with pytest.raises(SchemaError) as info:
        g.read_catalogue_csv(write(tmp_path / "c.csv", "id,name,stock\n" + rows))
    message = str(info.value)
    assert "25 invalid row(s)" in message and "row 21: name" in message
    assert "row 22:" not in message and "... and 5 more bad row(s)" in message


def test_ragged_row_and_bad_number(tmp_path: Path) -> None:
    text = "id,name,stock,body\nc1,A,3\nc2,B,x,7,5\nc3,C,-1,7\nc4,D,1,7,\n"
    with pytest.raises(SchemaError) as info:
        g.read_catalogue_csv(write(tmp_path / "c.csv", text))
    message = str(info.value)
    assert "row 2: (row): has 3 cells but the header has 4" in message
    assert "row 3: (row)" in message and "row 5: (row)" in message
    assert "row 4: stock: Input should be greater than or equal to 0" in message


def test_blank_lines_skipped_and_missing_file(tmp_path: Path) -> None:
    text = "id,user,timestamp\n\nt1,u1,2024-05-01T10:00:00+02:00\n,,\n"
    (record,) = g.read_tastings_csv(write(tmp_path / "t.csv", text))
    assert record.timestamp == datetime(2024, 5, 1, 8, tzinfo=UTC)
    with pytest.raises(DataError, match="nope.csv"):
        g.read_tastings_csv(tmp_path / "nope.csv")
    latin1 = "id,user,timestamp,notes\nt1,u1,2024-05-01,Jos\xe9\n".encode("latin-1")
    (tmp_path / "latin1.csv").write_bytes(latin1)
    with pytest.raises(SchemaError, match="not UTF-8"):
        g.read_tastings_csv(tmp_path / "latin1.csv")


def test_writer_refuses_ambiguous_data(tmp_path: Path) -> None:
    with pytest.raises(SchemaError, match="contains ';'"):
        g.write_catalogue_csv([Coffee(id="c", name="n", variety=["a;b"])], tmp_path / "c.csv")
    twice = [Coffee(id="c", name="n"), Coffee(id="c", name="m")]
    with pytest.raises(SchemaError, match="duplicate id 'c'"):
        g.write_catalogue_csv(twice, tmp_path / "c.csv")


def test_docs_examples_parse(tmp_path: Path) -> None:
    blocks = re.findall(r"```csv\n(.*?)```", DOCS.read_text(encoding="utf-8"), flags=re.S)
    assert len(blocks) == 2
    catalogue = g.read_catalogue_csv(write(tmp_path / "c.csv", blocks[0]))
    tastings_ = g.read_tastings_csv(write(tmp_path / "t.csv", blocks[1]))
    assert [c.id for c in catalogue] == ["c-001", "c-002"]
    assert catalogue[1].metrics.roast_agtron is None
    assert [t.id for t in tastings_] == ["t-1", "t-2"]
    assert tastings_[1].context is not None and tastings_[1].context.social_setting == "partner"
