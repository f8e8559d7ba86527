"""The bundled demo data: catalogue, catalogue records, tastings and feedback."""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone
from statistics import mean

import pytest

from taste2vec.data import demo
from taste2vec.errors import DataError
from taste2vec.schema import (
    Coffee,
    Feedback,
    FeedbackSignal,
    Metrics,
    Process,
    RoastLevel,
    TasteRecord,
    parse_record,
)

HANGUL = re.compile(r"[\uac00-\ud7a3]")
LATIN_WORD = re.compile(r"[A-Za-z]{3,}")
ROAST_ORDER = [
    RoastLevel.LIGHT,
    RoastLevel.MEDIUM_LIGHT,
    RoastLevel.MEDIUM,
    RoastLevel.MEDIUM_DARK,
    RoastLevel.DARK,
]
CORE_SENSORY = (
    "acidity",
    "sweetness",
    "bitterness",
    "body",
    "aftertaste",
    "balance",
    "aroma",
    "flavor",
    "clean_cup",
    "astringency",
    "overall",
)


@pytest.fixture(scope="module")
def catalogue() -> list[Coffee]:
    return demo.load_demo_catalogue()


@pytest.fixture(scope="module")
def tastings() -> list[TasteRecord]:
    return demo.demo_tastings()


@pytest.fixture(scope="module")
def feedback() -> list[Feedback]:
    return demo.demo_feedback()


# --------------------------------------------------------------------------- catalogue


def test_catalogue_size_ids_and_types(catalogue: list[Coffee]) -> None:
    assert len(catalogue) >= 90
    ids = [c.id for c in catalogue]
    assert len(set(ids)) == len(ids)
    assert all(re.fullmatch(r"demo-\d{3}", i) for i in ids)
    assert all(isinstance(c, Coffee) for c in catalogue)


def test_catalogue_fields_are_filled(catalogue: list[Coffee]) -> None:
    for c in catalogue:
        assert c.name and c.roaster and c.roaster_notes, c.id
        assert c.process is not None and c.roast_level is not None, c.id
        assert 3 <= len(c.descriptors) <= 6, c.id
        assert 0 <= c.stock <= 500, c.id
        observed = c.metrics.observed()
        for name in (*CORE_SENSORY, "roast_agtron"):
            assert name in observed, (c.id, name)
    assert 8 <= len({c.roaster for c in catalogue}) <= 16
    assert sum(c.stock == 0 for c in catalogue) >= 2


def test_catalogue_spread_of_origins_processes_roasts(catalogue: list[Coffee]) -> None:
    countries = Counter(c.origin_country for c in catalogue)
    for country in (
        "Ethiopia", "Kenya", "Colombia", "Brazil", "Guatemala", "Costa Rica", "Panama",
        "El Salvador", "Honduras", "Rwanda", "Burundi", "Yemen", "Indonesia",
        "Papua New Guinea", "India", "Peru", "Mexico", "China", "Thailand",
    ):  # fmt: skip
        assert countries[country] >= 1, country
    assert countries["Ethiopia"] >= 8
    assert countries[None] >= 5  # blends
    assert {c.process for c in catalogue} >= {
        Process.WASHED, Process.NATURAL, Process.HONEY, Process.ANAEROBIC, Process.WET_HULLED,
    }  # fmt: skip
    roasts = Counter(c.roast_level for c in catalogue)
    assert all(roasts[level] >= 5 for level in ROAST_ORDER), roasts
    assert sum("decaf" in c.descriptors for c in catalogue) >= 3
    assert any("Geisha" in c.variety for c in catalogue)
    assert any({"SL28", "SL34"} <= set(c.variety) for c in catalogue)


def test_korean_and_mixed_notes(catalogue: list[Coffee]) -> None:
    korean = [c for c in catalogue if HANGUL.search(c.roaster_notes)]
    assert len(korean) >= 20
    mixed = [c for c in korean if LATIN_WORD.search(c.roaster_notes)]
    assert len(mixed) >= 3
    assert any(not HANGUL.search(c.roaster_notes) for c in catalogue)


def test_roast_agtron_is_ordered_by_roast_level(catalogue: list[Coffee]) -> None:
    by_level: dict[RoastLevel, list[float]] = defaultdict(list)
    for c in catalogue:
        assert c.roast_level is not None and c.metrics.roast_agtron is not None
        by_level[c.roast_level].append(c.metrics.roast_agtron)
    assert min(by_level[RoastLevel.LIGHT]) >= 75
    assert max(by_level[RoastLevel.DARK]) <= 45
    for lighter, darker in zip(ROAST_ORDER, ROAST_ORDER[1:], strict=False):
        assert min(by_level[lighter]) > max(by_level[darker]), (lighter, darker)


def test_sensory_profile_follows_roast(catalogue: list[Coffee]) -> None:
    light = [c.metrics for c in catalogue if c.roast_level is RoastLevel.LIGHT]
    dark = [c.metrics for c in catalogue if c.roast_level is RoastLevel.DARK]

    def avg(group: list[Metrics], name: str) -> float:
        return float(mean(getattr(m, name) for m in group))

    assert avg(light, "acidity") > avg(dark, "acidity") + 3
    assert avg(dark, "bitterness") > avg(light, "bitterness") + 3
    assert avg(dark, "body") > avg(light, "body") + 2
    assert avg(light, "aroma") > avg(dark, "aroma")


def test_descriptors_match_flavour_family(catalogue: list[Coffee]) -> None:
    fruity = re.compile(r"berry|currant|cherry|peach|apricot|citrus|lemon|lime|grape|mango|plum")
    roasty = re.compile(r"smok|chocolate|cocoa|cacao|nut|caramel|molasses|toffee|earthy|cedar")
    light = [c for c in catalogue if c.roast_level is RoastLevel.LIGHT]
    dark = [c for c in catalogue if c.roast_level is RoastLevel.DARK]
    share_fruity = mean(any(fruity.search(d) for d in c.descriptors) for c in light)
    share_roasty = mean(any(roasty.search(d) for d in c.descriptors) for c in dark)
    assert share_fruity >= 0.8
    assert share_roasty >= 0.8


def test_catalogue_is_cached_but_returns_fresh_lists() -> None:
    first = demo.load_demo_catalogue()
    first.clear()
    assert len(demo.load_demo_catalogue()) >= 90


# --------------------------------------------------------------------------- catalogue records


def test_demo_records_mirror_the_catalogue(catalogue: list[Coffee]) -> None:
    records = demo.demo_records()
    assert len(records) == len(catalogue)
    for rec, coffee in zip(records, catalogue, strict=True):
        assert rec.id == f"catalogue:{coffee.id}"
        assert rec.user == demo.CATALOGUE_USER == "catalogue"
        assert rec.coffee == coffee.id
        assert rec.notes == coffee.roaster_notes
        assert rec.metrics == coffee.metrics
        assert rec.context is None
    stamps = [r.timestamp for r in records]
    assert stamps == sorted(stamps)
    assert stamps[0] == datetime(2024, 1, 1, 9, 0, tzinfo=UTC)
    assert all(s.year == 2024 for s in stamps)
    assert stamps[-1].month == 12
    assert len(set(stamps)) == len(stamps)
    # Deterministic: a second call gives equal records.
    assert demo.demo_records() == records
    # Valid as API input too.
    parse_record(records[0].model_dump(mode="json"))


# --------------------------------------------------------------------------- tastings


def test_tastings_reference_catalogue_and_users(
    catalogue: list[Coffee], tastings: list[TasteRecord]
) -> None:
    coffee_ids = {c.id for c in catalogue}
    assert 130 <= len(tastings) <= 170
    assert len({t.id for t in tastings}) == len(tastings)
    for t in tastings:
        assert t.user in demo.DEMO_USERS
        assert t.coffee in coffee_ids
        assert datetime(2026, 8, 31, tzinfo=UTC) <= t.timestamp <= datetime(2026, 12, 1, tzinfo=UTC)
        assert t.notes
    per_user = Counter(t.user for t in tastings)
    assert set(per_user) == set(demo.DEMO_USERS)
    assert all(n >= 15 for n in per_user.values()), per_user


def test_tastings_languages(tastings: list[TasteRecord]) -> None:
    def share_korean(user: str) -> float:
        return mean(bool(HANGUL.search(t.notes)) for t in tastings if t.user == user)

    assert share_korean("demo-minji") == 1.0
    assert share_korean("demo-seojun") == 1.0
    assert share_korean("demo-ana") == 0.0
    assert share_korean("demo-ben") == 0.0
    lena = [t.notes for t in tastings if t.user == "demo-lena"]
    assert all(LATIN_WORD.search(n) for n in lena)
    assert mean(bool(HANGUL.search(n)) for n in lena) > 0.5


def test_tastings_brew_variables_fit_the_method(tastings: list[TasteRecord]) -> None:
    for t in tastings:
        m = t.metrics
        assert m.water_temp_c is not None and m.brew_ratio is not None, t.id
        assert m.brew_time_s is not None and m.dose_g is not None, t.id
        assert m.overall is not None, t.id
        notes = t.notes.lower()
        if m.brew_ratio < 3:  # espresso
            assert 20 <= m.brew_time_s <= 40, t.id
            assert 85 <= m.water_temp_c <= 96, t.id
            if m.grind_size_um is not None:
                assert m.grind_size_um < 450, t.id
        elif m.brew_time_s >= 3600:  # cold brew
            assert m.water_temp_c <= 25, t.id
            assert "cold brew" in notes or "콜드브루" in notes, t.id
        else:
            assert 80 <= m.water_temp_c <= 98, t.id
            assert 12 <= m.brew_ratio <= 18, t.id
        if m.tds_pct is not None and m.extraction_yield_pct is not None:
            assert 15 <= m.extraction_yield_pct <= 25, t.id


def test_tastings_leave_unknown_values_out(tastings: list[TasteRecord]) -> None:
    sensory_missing = sum(
        1 for t in tastings for n in CORE_SENSORY if getattr(t.metrics, n) is None
    )
    assert sensory_missing > 50
    assert any(t.context is None for t in tastings)
    partial = [
        t for t in tastings if t.context is not None and None in t.context.model_dump().values()
    ]
    assert partial
    assert any(t.metrics.tds_pct is not None for t in tastings)


def test_context_hour_and_weekday_are_local(tastings: list[TasteRecord]) -> None:
    # Users in Seoul/Busan (UTC+9) and Accra (UTC+0) have no daylight saving time.
    offsets = {"demo-minji": 9, "demo-seojun": 9, "demo-lena": 9, "demo-kofi": 0}
    checked = 0
    for t in tastings:
        if t.user not in offsets or t.context is None or t.context.hour is None:
            continue
        local = t.timestamp.astimezone(timezone(timedelta(hours=offsets[t.user])))
        assert local.hour == t.context.hour, t.id
        if t.context.weekday is not None:
            assert local.weekday() == t.context.weekday, t.id
        checked += 1
    assert checked > 40


def test_each_user_has_a_coherent_taste(
    catalogue: list[Coffee], tastings: list[TasteRecord]
) -> None:
    coffees = {c.id: c for c in catalogue}
    roast_rank = {level: i for i, level in enumerate(ROAST_ORDER)}

    def liking(user: str, pred: Callable[[Coffee], bool]) -> float:
        vals = [
            t.metrics.overall
            for t in tastings
            if t.user == user and t.coffee is not None and pred(coffees[t.coffee])
        ]
        assert vals, user
        return mean(v for v in vals if v is not None)

    def light(c: Coffee) -> bool:
        return c.roast_level is not None and roast_rank[c.roast_level] <= 1

    def dark(c: Coffee) -> bool:
        return c.roast_level is not None and roast_rank[c.roast_level] >= 3

    assert liking("demo-ana", light) > liking("demo-ana", dark) + 3
    assert liking("demo-ben", dark) > liking("demo-ben", light) + 3
    assert liking("demo-lena", dark) > liking("demo-lena", light) + 1.5
    assert liking("demo-minji", light) > liking("demo-minji", dark) + 3

    def funky(c: Coffee) -> bool:
        return c.process in (Process.NATURAL, Process.ANAEROBIC)

    assert liking("demo-kofi", funky) > liking("demo-kofi", lambda c: not funky(c)) + 1
    # Every user has both clear likes and clear dislikes.
    for user in demo.DEMO_USERS:
        scores = [t.metrics.overall for t in tastings if t.user == user]
        assert max(s for s in scores if s is not None) >= 8, user
        assert min(s for s in scores if s is not None) <= 4.5, user


# --------------------------------------------------------------------------- feedback


def test_feedback_is_valid_and_consistent(
    catalogue: list[Coffee], tastings: list[TasteRecord], feedback: list[Feedback]
) -> None:
    coffee_ids = {c.id for c in catalogue}
    records = {t.id: t for t in tastings}
    first_tasting: dict[tuple[str, str], datetime] = {}
    for t in sorted(tastings, key=lambda t: t.timestamp):
        assert t.coffee is not None
        first_tasting.setdefault((t.user, t.coffee), t.timestamp)

    assert 100 <= len(feedback) <= 150
    assert len({f.id for f in feedback}) == len(feedback)
    assert set(Counter(f.signal for f in feedback)) == set(FeedbackSignal)
    for f in feedback:
        assert f.user in demo.DEMO_USERS
        assert f.coffee in coffee_ids
        first = first_tasting.get((f.user, f.coffee))
        if first is not None:
            assert f.timestamp > first, f.id
        if f.record is not None:
            rec = records[f.record]
            assert (rec.user, rec.coffee) == (f.user, f.coffee)
            assert f.timestamp > rec.timestamp
            overall = rec.metrics.overall
            assert overall is not None
            if f.signal is FeedbackSignal.LIKED:
                assert overall >= 7, f.id
            elif f.signal is FeedbackSignal.DISLIKED:
                assert overall <= 5, f.id
        else:
            assert f.signal is FeedbackSignal.SKIPPED, f.id
    assert set(Counter(f.user for f in feedback)) == set(demo.DEMO_USERS)


# --------------------------------------------------------------------------- corrupt files


def test_corrupt_catalogue_raises_data_error() -> None:
    with pytest.raises(DataError, match="not valid JSON"):
        demo._parse_catalogue("[{", "broken.json")
    with pytest.raises(DataError, match="JSON list"):
        demo._parse_catalogue('{"id": "x"}', "broken.json")
    with pytest.raises(DataError, match="#0 is invalid"):
        demo._parse_catalogue('[{"id": "x", "name": "X", "stock": -1}]', "broken.json")
    with pytest.raises(DataError, match="duplicate"):
        demo._parse_catalogue('[{"id": "x", "name": "X"}, {"id": "x", "name": "Y"}]')
    with pytest.raises(DataError, match="no coffees"):
        demo._parse_catalogue("[]")


def test_corrupt_jsonl_names_the_line() -> None:
    text = '{"id": "r1", "user": "u"}\n\n{"id": "r2", "user": "u", "metrics": {"acidity": 11}}\n'
    with pytest.raises(DataError, match="line 3"):
        demo._parse_jsonl(text, "t.jsonl", parse_record)
    with pytest.raises(DataError, match="line 1: not valid JSON"):
        demo._parse_jsonl("nope\n", "t.jsonl", parse_record)


def test_missing_bundled_file_raises_data_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(demo, "CATALOGUE_FILE", "no_such_file.json")
    demo._catalogue.cache_clear()
    try:
        with pytest.raises(DataError, match="missing or unreadable"):
            demo.load_demo_catalogue()
    finally:
        monkeypatch.undo()
        demo._catalogue.cache_clear()
    assert len(demo.load_demo_catalogue()) >= 90
