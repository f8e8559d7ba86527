"""Build the bundled demo data: catalogue, tastings and feedback.

Usage (from the repository root)::

    .venv/bin/python scripts/build_demo_data.py

Writes, under ``src/taste2vec/data/bundled/``:

- ``demo_catalogue.json``: the hand-written coffees of ``demo_catalogue_source.py``
  with their full sensory profile (aroma, flavor, aftertaste, balance, clean_cup,
  astringency and roast_agtron are derived from the five hand-set core numbers);
- ``demo_tastings.jsonl``: about 150 tastings by six fictional demo users over
  September to November 2026;
- ``demo_feedback.jsonl``: about 120 likes, dislikes, ratings and skips.

The output is deterministic: every random draw comes from ``random.Random``
seeded with a fixed string, so running the script twice gives byte-identical
files (on CPython 3.11, the project's Python). Every item is validated against
the ``taste2vec.schema`` models before it is written.

How the tastings are simulated: each user has a taste function (a liking score
0-10 from the coffee's roast, process, core sensory numbers and flavour
families), a brewing habit (methods, recipe, times of day), a city (weather)
and a note-writing voice (English, Korean, or mixed). Coffees are drawn mostly
from what the user likes, with some exploration, so the data holds both likes
and clear dislikes. Perceived intensities are the catalogue profile shifted by
the brew method and by how well the brew extracted, plus noise; mood and
stress nudge the liking. Everything here is fictional and original content
(MIT); nothing is derived from licensed review data.
"""

from __future__ import annotations

import json
import math
import random
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT / "scripts"))

from demo_catalogue_source import CATALOGUE, Entry  # noqa: E402

from taste2vec.schema import parse_coffee, parse_feedback, parse_record  # noqa: E402

OUT = ROOT / "src" / "taste2vec" / "data" / "bundled"
ROAST_INDEX = {"light": 0, "medium-light": 1, "medium": 2, "medium-dark": 3, "dark": 4}
# Agtron (ground) ranges per roast level; disjoint so the ordering is strict.
AGTRON = {
    "light": (78.0, 92.0),
    "medium-light": (68.0, 76.0),
    "medium": (56.0, 66.0),
    "medium-dark": (46.0, 54.0),
    "dark": (32.0, 44.0),
}


def _rng(*parts: object) -> random.Random:
    return random.Random(":".join(str(p) for p in parts))  # noqa: S311 - demo data, not security


def _clamp(x: float, lo: float, hi: float) -> float:
    return max(lo, min(hi, x))


def _r1(x: float) -> float:
    return round(x, 1)


def _half(x: float) -> float:
    """Round to the nearest 0.5, the way people score at home."""
    return math.floor(x * 2 + 0.5) / 2


# ============================================================================ flavour families

# fmt: off
FAMILY_WORDS: dict[str, tuple[str, ...]] = {
    "floral": (
        "jasmine", "bergamot", "honeysuckle", "blossom", "rose", "lavender", "hibiscus",
        "floral", "chamomile", "lemongrass",
    ),
    "tea": ("tea", "earl grey", "delicate", "silky"),
    "fruity": (
        "berry", "berries", "currant", "cherry", "peach", "apricot", "nectarine", "plum",
        "grape", "apple", "pear", "lemon", "lime", "orange", "mandarin", "tangerine",
        "grapefruit", "mango", "papaya", "passionfruit", "pineapple", "guava", "lychee", "fig",
        "raisin", "date", "strawberry", "raspberry", "cranberry", "gooseberry", "rhubarb",
        "citrus", "fruit", "tamarind", "lemonade", "juicy", "jammy", "cola",
    ),
    "choc_nut": (
        "chocolate", "cocoa", "cacao", "almond", "hazelnut", "pecan", "walnut", "peanut",
        "nuts", "nutty", "caramel", "toffee", "nougat", "malt", "cashew", "macadamia", "fudge",
        "brown butter", "marshmallow", "wafer", "grain", "barley",
    ),
    "roasty": (
        "smoky", "smoke", "charred", "burnt", "bold", "bittersweet", "campfire", "dark roast",
        "crema", "heavy body", "full body",
    ),
    "earthy": (
        "earthy", "cedar", "forest", "tobacco", "leather", "herbal", "pepper", "clove",
        "nutmeg", "spice", "monsooned",
    ),
    "ferment": (
        "wine", "winey", "rum", "liqueur", "rosé", "yoghurt", "bubblegum", "tropical",
        "boozy",
    ),
}
# fmt: on


def families(descriptors: list[str]) -> dict[str, float]:
    """Share of a coffee's descriptors in each flavour family (0-1)."""
    out = {}
    for fam, words in FAMILY_WORDS.items():
        hits = sum(1 for d in descriptors if any(w in d.lower() for w in words))
        out[fam] = min(1.0, hits / max(1, len(descriptors)) * 2.0)
    return out


# ============================================================================ catalogue


@dataclass
class CoffeeInfo:
    id: str
    name: str
    roaster: str
    country: str | None
    process: str
    roast: str
    descriptors: list[str]
    metrics: dict[str, float]
    fam: dict[str, float]

    @property
    def roast_idx(self) -> int:
        return ROAST_INDEX[self.roast]

    @property
    def decaf(self) -> bool:
        return "decaf" in self.descriptors

    @property
    def geisha(self) -> bool:
        return "Geisha" in self.name

    @property
    def blend(self) -> bool:
        return self.country is None


def catalogue_metrics(cid: str, entry: Entry) -> dict[str, float]:
    _name, _roaster, _country, _region, process, _var, roast, prof, _stock, desc, _notes = entry
    acid, sweet, bitter, body, overall = prof
    rng = _rng("catalogue", cid)
    fam = families(desc)

    def j(scale: float = 0.2) -> float:
        return rng.uniform(-scale, scale)

    clean_shift = {
        "washed": 0.4,
        "honey": 0.1,
        "natural": -0.5,
        "anaerobic": -0.6,
        "wet-hulled": -1.2,
        "other": -0.2,
    }[process]
    if "monsooned" in desc:
        clean_shift = -1.5
    dark = ROAST_INDEX[roast] >= 3
    lo, hi = AGTRON[roast]
    return {
        "acidity": acid,
        "sweetness": sweet,
        "bitterness": bitter,
        "body": body,
        "aftertaste": _r1(_clamp(overall - 0.5 + j(), 0, 10)),
        "balance": _r1(_clamp(overall - 0.3 - 0.15 * max(0.0, acid - 8.5) + j(), 0, 10)),
        "aroma": _r1(
            _clamp(overall - 0.2 + 0.5 * fam["floral"] - (0.3 if dark else 0.0) + j(), 0, 10)
        ),
        "flavor": _r1(_clamp(overall + j(), 0, 10)),
        "clean_cup": _r1(_clamp(overall + clean_shift + j(), 0, 9.8)),
        "astringency": _r1(
            _clamp(
                1.2 + 0.35 * max(0.0, bitter - 4) + 0.5 * max(0.0, 8.5 - overall) + j(0.3),
                0.3,
                6.0,
            )
        ),
        "overall": overall,
        "roast_agtron": float(round(rng.uniform(lo, hi))),
    }


def build_catalogue() -> tuple[list[dict[str, Any]], list[CoffeeInfo]]:
    items: list[dict[str, Any]] = []
    infos: list[CoffeeInfo] = []
    for i, entry in enumerate(CATALOGUE, start=1):
        name, roaster, country, region, process, variety, roast, _p, stock, desc, notes = entry
        cid = f"demo-{i:03d}"
        metrics = catalogue_metrics(cid, entry)
        item: dict[str, Any] = {
            "id": cid,
            "name": name,
            "roaster": roaster,
            "origin_country": country,
            "region": region,
            "process": process,
            "variety": variety,
            "roast_level": roast,
            "roaster_notes": notes,
            "descriptors": desc,
            "metrics": metrics,
            "stock": stock,
        }
        parse_coffee(item)
        items.append(item)
        infos.append(
            CoffeeInfo(cid, name, roaster, country, process, roast, desc, metrics, families(desc))
        )
    return items, infos


# ============================================================================ Korean helpers

# fmt: off
KO: dict[str, str] = {
    "jasmine": "재스민", "bergamot": "베르가못", "lemon zest": "레몬 제스트",
    "white peach": "백도", "black tea": "홍차", "honeysuckle": "인동꽃",
    "orange blossom": "오렌지 꽃", "apricot": "살구", "lime": "라임", "lemongrass": "레몬그라스",
    "nectarine": "천도복숭아", "candied lemon": "레몬 캔디", "chamomile": "캐모마일",
    "demerara": "비정제 설탕", "blueberry": "블루베리", "strawberry jam": "딸기잼",
    "red wine": "레드와인", "dark chocolate": "다크초콜릿", "mango": "망고", "rosé": "로제 와인",
    "cocoa nib": "카카오닙스", "dried strawberry": "말린 딸기", "papaya": "파파야",
    "passionfruit": "패션프루트", "wildflower honey": "야생화 꿀", "rum raisin": "럼 레이즌",
    "grapefruit": "자몽", "green grape": "청포도", "lavender": "라벤더", "brown sugar": "흑설탕",
    "raspberry": "라즈베리", "cherry cola": "체리 콜라", "hibiscus": "히비스커스",
    "milk chocolate": "밀크초콜릿", "orange marmalade": "오렌지 마멀레이드", "floral": "꽃",
    "caramel": "캐러멜", "lychee": "리치", "pineapple": "파인애플", "cinnamon": "시나몬",
    "blueberry muffin": "블루베리 머핀", "cardamom": "카다멈", "cocoa": "코코아",
    "stewed peach": "복숭아 콩포트", "blackcurrant": "블랙커런트", "cranberry": "크랜베리",
    "plum": "자두", "molasses": "당밀", "red currant": "레드커런트", "redcurrant": "레드커런트",
    "blood orange": "블러드 오렌지", "rhubarb": "루바브", "cola": "콜라", "panela": "파넬라",
    "lemon curd": "레몬 커드", "gooseberry": "구스베리", "blackberry jam": "블랙베리잼",
    "blackberry": "블랙베리", "roasted nuts": "구운 견과", "almond": "아몬드",
    "red apple": "붉은 사과", "red grape": "적포도", "cane sugar": "사탕수수 설탕",
    "mandarin": "귤", "rose hip": "로즈힙", "baked plum": "구운 자두", "orange": "오렌지",
    "green apple": "청사과", "vanilla": "바닐라", "dark caramel": "진한 캐러멜",
    "hazelnut": "헤이즐넛", "dried cherry": "말린 체리", "pink grapefruit": "핑크 자몽",
    "honey": "꿀", "strawberry yoghurt": "딸기 요거트", "bubblegum": "풍선껌",
    "toffee": "토피", "roasted peanut": "볶은 땅콩", "nougat": "누가", "pecan": "피칸",
    "dried fig": "말린 무화과", "ripe cherry": "잘 익은 체리", "mixed berries": "베리",
    "smoky": "스모키함", "walnut": "호두", "charred sugar": "그을린 설탕",
    "apricot jam": "살구잼", "macadamia": "마카다미아", "chocolate truffle": "초콜릿 트러플",
    "orange peel": "오렌지 껍질", "plum jam": "자두잼", "chocolate": "초콜릿",
    "lemon drop": "레몬 사탕", "black sugar": "흑당", "yellow plum": "노란 자두",
    "tangerine": "귤", "maple syrup": "메이플 시럽", "red cherry": "체리",
    "dark cherry": "다크 체리", "fig jam": "무화과잼", "fudge": "퍼지",
    "toasted marshmallow": "구운 마시멜로", "peach blossom": "복숭아꽃", "Earl Grey": "얼그레이",
    "rose": "장미", "guava": "구아바", "red plum": "붉은 자두", "herbal": "허브",
    "grape juice": "포도주스", "cherry jam": "체리잼", "caramelised apple": "캐러멜 사과",
    "walnut cake": "호두 케이크", "passion fruit": "패션프루트", "white grape": "청포도",
    "cacao": "카카오", "tobacco": "담배잎", "orange zest": "오렌지 제스트",
    "strawberry": "딸기", "tamarind": "타마린드", "pink lemonade": "핑크 레모네이드",
    "red berries": "붉은 베리", "clove": "정향", "baked apple": "구운 사과",
    "dried apricot": "말린 살구", "raisin": "건포도", "wild honey": "야생 꿀", "date": "대추야자",
    "earthy": "흙내음", "cedar": "삼나무", "forest floor": "숲 내음", "black pepper": "후추",
    "toasted coconut": "구운 코코넛", "spice": "향신료", "dried mango": "말린 망고",
    "malt": "맥아", "nutmeg": "육두구", "dark toffee": "진한 토피", "toasted grain": "구운 곡물",
    "roasted almond": "구운 아몬드", "green tea": "녹차", "lemon": "레몬",
    "burnt caramel": "탄 캐러멜", "bittersweet chocolate": "비터 초콜릿", "pear": "배",
    "peanut brittle": "땅콩 캔디", "honeycomb": "벌집꿀", "roasted barley": "볶은 보리",
    "pu-erh tea": "보이차", "white tea": "백차", "canned peach": "복숭아 통조림",
    "yoghurt": "요거트", "white florals": "흰 꽃", "lemon meringue": "레몬 머랭",
    "black cherry": "블랙체리", "rum": "럼", "berry": "베리", "hazelnut praline": "프랄린",
    "bittersweet cocoa": "쌉쌀한 코코아", "burnt sugar": "탄 설탕", "candied orange": "오렌지 필",
    "toasted nuts": "구운 견과", "molasses cookie": "당밀 쿠키", "campfire smoke": "모닥불 향",
    "charred oak": "그을린 오크", "toasted hazelnut": "구운 헤이즐넛", "cashew": "캐슈넛",
    "cherry": "체리", "lemon tea": "레몬티", "peach": "복숭아", "dark cocoa": "다크 코코아",
    "toasted walnut": "구운 호두", "dark fruit": "검은 과일", "pipe tobacco": "파이프 담배",
    "tomato leaf": "토마토 잎", "tomato": "토마토", "caramelised sugar": "캐러멜 설탕",
    "red wine grape": "적포도",
}
# fmt: on

KO_FAMILY = {
    "floral": "꽃",
    "tea": "홍차",
    "fruity": "과일",
    "choc_nut": "초콜릿",
    "roasty": "스모키함",
    "earthy": "흙내음",
    "ferment": "발효",
}


def batchim(word: str) -> bool:
    ch = word[-1]
    if "가" <= ch <= "힣":
        return (ord(ch) - 0xAC00) % 28 != 0
    return False


def josa(word: str, pair: str) -> str:
    """Attach the right particle: pair is one of 와/과, 이/가, 은/는, 을/를 (no-batchim first)."""
    no, yes = {"와": ("와", "과"), "가": ("가", "이"), "는": ("는", "은"), "를": ("를", "을")}[pair]
    return word + (yes if batchim(word) else no)


# ============================================================================ users


@dataclass
class Brew:
    method: str
    metrics: dict[str, float]
    extraction: float  # standardised extraction offset: < 0 under, > 0 over
    dose: float
    water: float
    hours: int = 0


@dataclass
class User:
    id: str
    n: int
    tz: str
    city: str
    methods: dict[str, float]
    measures_tds: float  # probability of logging a refractometer reading
    logs: dict[str, float]  # metric -> probability it is logged
    lang: str
    taste: str
    base_mood: float
    extra: dict[str, Any] = field(default_factory=dict)


SENSE = (
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
)

USERS = [
    User(
        "demo-ana",
        27,
        "lisbon",
        "Lisbon",
        {"pour_over": 0.75, "aeropress": 0.25},
        0.6,
        {
            "acidity": 0.95,
            "sweetness": 0.9,
            "bitterness": 0.85,
            "body": 0.85,
            "aftertaste": 0.8,
            "balance": 0.75,
            "aroma": 0.85,
            "flavor": 0.8,
            "clean_cup": 0.6,
            "astringency": 0.5,
        },
        "en",
        "bright fruity washed Ethiopians and Kenyans; dislikes dark roasts",
        6.5,
    ),
    User(
        "demo-minji",
        26,
        "seoul",
        "Seoul",
        {"pour_over": 0.78, "cold_brew": 0.1, "aeropress": 0.12},
        0.1,
        {
            "acidity": 0.9,
            "sweetness": 0.9,
            "bitterness": 0.8,
            "body": 0.8,
            "aftertaste": 0.85,
            "balance": 0.7,
            "aroma": 0.95,
            "flavor": 0.75,
            "clean_cup": 0.8,
            "astringency": 0.7,
        },
        "ko",
        "florals and tea-like coffees; dislikes heavy, earthy and funky cups",
        6.5,
    ),
    User(
        "demo-ben",
        25,
        "london",
        "Manchester",
        {"espresso": 0.65, "french_press": 0.35},
        0.35,
        {
            "acidity": 0.8,
            "sweetness": 0.7,
            "bitterness": 0.9,
            "body": 0.95,
            "aftertaste": 0.4,
            "balance": 0.5,
            "aroma": 0.3,
            "flavor": 0.4,
            "clean_cup": 0.1,
            "astringency": 0.2,
        },
        "en",
        "chocolatey dark espresso and heavy body; dislikes sour light roasts",
        6.0,
    ),
    User(
        "demo-seojun",
        25,
        "seoul",
        "Busan",
        {"aeropress": 0.45, "espresso": 0.3, "pour_over": 0.25},
        0.08,
        {
            "acidity": 0.9,
            "sweetness": 0.9,
            "bitterness": 0.85,
            "body": 0.8,
            "aftertaste": 0.5,
            "balance": 0.85,
            "aroma": 0.5,
            "flavor": 0.5,
            "clean_cup": 0.3,
            "astringency": 0.3,
        },
        "ko",
        "sweet, nutty, caramel medium roasts and honeys; dislikes sharp acidity",
        5.5,
    ),
    User(
        "demo-kofi",
        24,
        "accra",
        "Accra",
        {"pour_over": 0.5, "aeropress": 0.35, "cold_brew": 0.15},
        0.3,
        {
            "acidity": 0.85,
            "sweetness": 0.95,
            "bitterness": 0.7,
            "body": 0.85,
            "aftertaste": 0.8,
            "balance": 0.6,
            "aroma": 0.8,
            "flavor": 0.9,
            "clean_cup": 0.5,
            "astringency": 0.4,
        },
        "en",
        "fruit-bomb naturals, anaerobics and Yemen; dislikes flat cups and decaf",
        7.0,
    ),
    User(
        "demo-lena",
        23,
        "seoul",
        "Seoul",
        {"cold_brew": 0.4, "french_press": 0.45, "pour_over": 0.15},
        0.05,
        {
            "acidity": 0.75,
            "sweetness": 0.5,
            "bitterness": 0.65,
            "body": 0.8,
            "aftertaste": 0.3,
            "balance": 0.3,
            "aroma": 0.25,
            "flavor": 0.3,
            "clean_cup": 0.15,
            "astringency": 0.2,
        },
        "mixed",
        "low-acid, big-bodied, chocolatey cups and decaf at night; dislikes sharp acidity",
        6.0,
        {"skips_grind": 0.5},
    ),
]
USER_BY_ID = {u.id: u for u in USERS}

# Monthly mean (temp °C, humidity %) for Sept, Oct, Nov.
CLIMATE = {
    "Lisbon": [(23.0, 66.0), (19.5, 72.0), (15.0, 78.0)],
    "Seoul": [(22.5, 70.0), (15.0, 64.0), (7.0, 60.0)],
    "Busan": [(23.5, 72.0), (18.0, 62.0), (12.0, 55.0)],
    "Manchester": [(14.5, 82.0), (11.0, 86.0), (7.5, 88.0)],
    "Accra": [(26.0, 80.0), (27.0, 79.0), (27.5, 78.0)],
}


def utc_offset(tz: str, local: datetime) -> timezone:
    """Fixed offsets for the demo cities in autumn 2026 (EU clocks go back on 25 October)."""
    if tz == "seoul":
        return timezone(timedelta(hours=9))
    if tz == "accra":
        return UTC
    summer = local < datetime(2026, 10, 25, 2, 0)
    return timezone(timedelta(hours=1 if summer else 0))


# ============================================================================ taste functions


def preference(user: User, c: CoffeeInfo) -> tuple[float, str]:
    """(liking 0-10 before noise, the main reason a low score would give)."""
    m = c.metrics
    acid, sweet, body = m["acidity"], m["sweetness"], m["body"]
    f = c.fam
    r = c.roast_idx
    terms: dict[str, float] = {}
    if user.id == "demo-ana":
        base = 6.0
        terms = {
            "acid": 0.6 * (acid - 6.5),
            "fruit": 0.8 * f["fruity"] + 0.9 * f["floral"] + 0.4 * f["tea"],
            "origin": 0.9 if c.country in ("Ethiopia", "Kenya") and c.process == "washed" else 0,
            "dark": -0.9 * r,
            "earthy": -0.9 * f["earthy"] - 0.8 * f["roasty"],
            "funky": -0.6 * f["ferment"],
        }
    elif user.id == "demo-minji":
        base = 6.2
        terms = {
            "floral": 1.5 * f["floral"] + 1.4 * f["tea"] + (1.0 if c.geisha else 0.0),
            "acid": 0.25 * (acid - 6.5),
            "heavy": -0.5 * max(0.0, body - 5.5),
            "earthy": -1.3 * f["earthy"] - 0.8 * f["roasty"],
            "funky": -1.2 * f["ferment"] - (0.5 if c.process == "anaerobic" else 0.0),
            "dark": -0.6 * r,
        }
    elif user.id == "demo-ben":
        base = 4.6
        terms = {
            "roast": 0.75 * r,
            "choc": 1.0 * f["choc_nut"] + 0.5 * f["roasty"],
            "body": 0.5 * (body - 6.0),
            "acidic": -0.6 * max(0.0, acid - 5.0),
            "floral": -0.6 * f["floral"] - 0.4 * f["tea"],
            "blend": 0.5 if c.blend else 0.0,
        }
    elif user.id == "demo-seojun":
        base = 6.5
        terms = {
            "choc": 1.7 * f["choc_nut"],
            "sweet": 1.0 * (sweet - 7.0),
            "roast": -0.7 * max(0, r - 2),
            "acidic": -0.9 * max(0.0, acid - 6.8) - 0.7 * max(0, 2 - r),
            "funky": -0.8 * f["ferment"] - (0.6 if c.process == "anaerobic" else 0.0),
            "honey": 0.6 if c.process == "honey" else 0.0,
            "earthy": -0.5 * f["earthy"],
        }
    elif user.id == "demo-kofi":
        base = 5.6
        terms = {
            "natural": 1.4 if c.process in ("natural", "anaerobic") else 0.0,
            "funk": 1.0 * f["ferment"] + 0.6 * f["fruity"],
            "sweet": 0.6 * (sweet - 7.0),
            "dark": -0.45 * r,
            "decaf": -2.0 if c.decaf else 0.0,
            "flat": -0.5 * max(0.0, 5.5 - acid),
            "yemen": 0.8 if c.country == "Yemen" else 0.0,
        }
    elif user.id == "demo-lena":
        base = 6.2
        terms = {
            "body": 0.55 * (body - 6.0),
            "acidic": -0.75 * max(0.0, acid - 5.5),
            "choc": 0.6 * f["choc_nut"] + 0.4 * f["earthy"],
            "decaf": 0.6 if c.decaf else 0.0,
            "roast": 0.2 * r,
            "floral": -0.3 * f["floral"],
        }
    score = base + sum(terms.values())
    worst = min(terms.items(), key=lambda kv: kv[1])
    reason = worst[0] if worst[1] < -0.4 else "generic"
    return _clamp(score, 0.5, 9.8), reason


# ============================================================================ brewing


def brew(user: User, c: CoffeeInfo, method: str, rng: random.Random) -> Brew:
    e = _clamp(rng.gauss(0.0, 0.85), -2.2, 2.2)
    r = c.roast_idx
    hours = 0
    if method == "pour_over":
        dose = rng.choice([15.0, 18.0, 20.0, 22.0])
        ratio = _r1(rng.uniform(15.0, 17.0))
        temp = [95.5, 94.0, 92.0, 89.0, 87.0][r] + rng.uniform(-1.0, 1.0)
        grind = 720 - 90 * e + rng.gauss(0, 30)
        time = 180 + 28 * e + rng.gauss(0, 10)
        ey = 20.0 + 1.3 * e + rng.gauss(0, 0.3)
        tds = ey / (ratio - 2.1)
        water = dose * ratio
    elif method == "aeropress":
        dose = rng.choice([14.0, 15.0, 16.0, 17.0, 18.0])
        ratio = _r1(rng.uniform(12.5, 15.0))
        temp = [92.0, 90.0, 88.0, 85.0, 82.0][r] + rng.uniform(-1.5, 1.5)
        grind = 520 - 60 * e + rng.gauss(0, 25)
        time = 110 + 20 * e + rng.gauss(0, 8)
        ey = 19.5 + 1.2 * e + rng.gauss(0, 0.3)
        tds = ey / (ratio - 1.5)
        water = dose * ratio
    elif method == "espresso":
        dose = rng.choice([17.0, 18.0, 18.0, 18.5, 19.0, 20.0])
        ratio = _r1(rng.uniform(1.8, 2.5))
        temp = [94.0, 93.5, 93.0, 91.5, 90.5][r] + rng.uniform(-0.5, 0.5)
        grind = 290 - 30 * e + rng.gauss(0, 12)
        time = 28 + 3.5 * e + rng.gauss(0, 1.2)
        ey = 20.0 + 1.4 * e + rng.gauss(0, 0.3)
        tds = ey / ratio
        water = dose * ratio  # beverage yield
    elif method == "french_press":
        dose = rng.choice([25.0, 30.0, 30.0, 35.0])
        ratio = _r1(rng.uniform(14.0, 16.0))
        temp = [96.0, 95.0, 94.0, 93.0, 92.0][r] + rng.uniform(-1.0, 1.0)
        grind = 1100 - 80 * e + rng.gauss(0, 40)
        time = 240 + 35 * e + rng.gauss(0, 12)
        ey = 19.0 + 1.2 * e + rng.gauss(0, 0.3)
        tds = ey / (ratio - 2.0)
        water = dose * ratio
    elif method == "cold_brew":
        dose = rng.choice([60.0, 70.0, 80.0, 100.0])
        ratio = _r1(rng.uniform(7.0, 11.0))
        fridge = rng.random() < 0.7
        temp = rng.uniform(4.0, 6.0) if fridge else rng.uniform(19.0, 23.0)
        hours = int(_clamp(round(16 + 2.5 * e + rng.gauss(0, 1) - (0 if fridge else 4)), 10, 22))
        grind = 1300 - 60 * e + rng.gauss(0, 40)
        time = hours * 3600.0
        ey = 17.5 + 1.0 * e + rng.gauss(0, 0.3)
        tds = ey / (ratio - 2.5)
        water = dose * ratio
    else:  # pragma: no cover - methods are fixed above
        raise ValueError(method)
    metrics: dict[str, float] = {
        "water_temp_c": _r1(temp),
        "grind_size_um": float(round(_clamp(grind, 150, 1900) / 10) * 10),
        "brew_ratio": ratio,
        "brew_time_s": float(round(time)),
        "dose_g": dose,
    }
    if rng.random() < user.measures_tds:
        metrics["tds_pct"] = round(tds, 2)
        if rng.random() < 0.85:
            metrics["extraction_yield_pct"] = _r1(ey)
    if rng.random() < user.extra.get("skips_grind", 0.0):
        del metrics["grind_size_um"]
    return Brew(method, metrics, e, dose, water, hours)


METHOD_SHIFT: dict[str, dict[str, float]] = {
    "pour_over": {"clean_cup": 0.3, "body": -0.3},
    "aeropress": {"body": 0.4},
    "espresso": {
        "body": 1.6,
        "bitterness": 1.0,
        "acidity": 0.4,
        "astringency": 0.3,
        "aftertaste": 0.2,
    },
    "french_press": {"body": 1.3, "clean_cup": -1.0, "acidity": -0.3, "astringency": 0.3},
    "cold_brew": {
        "acidity": -2.0,
        "bitterness": -1.2,
        "sweetness": 0.5,
        "aroma": -1.2,
        "astringency": -0.5,
    },
}


def perceive(
    user: User, c: CoffeeInfo, b: Brew, liking: float, rng: random.Random
) -> dict[str, float]:
    out: dict[str, float] = {}
    e = b.extraction
    shift = METHOD_SHIFT[b.method]
    for name in SENSE:
        v = c.metrics[name] + shift.get(name, 0.0)
        if name == "bitterness":
            v += 0.6 * max(e, 0.0)
        elif name == "astringency":
            v += 0.6 * max(e, 0.0) + 0.2 * max(-e, 0.0)
        elif name == "acidity":
            v += 0.5 * max(-e, 0.0)
        elif name == "sweetness":
            v -= 0.35 * abs(e)
        elif name in ("balance", "aftertaste", "flavor"):
            v = 0.5 * v + 0.5 * liking
        v += rng.gauss(0.0, 0.45)
        if rng.random() < user.logs[name]:
            out[name] = _half(_clamp(v, 0.0, 10.0))
    out["overall"] = _half(liking)
    return out


# ============================================================================ notes

EN_METHOD = {
    "demo-ana": {
        "pour_over": [
            "V60, {dose:g} g to {water:.0f} g at {temp:.0f}°C.",
            "Morning V60.",
            "Slow V60 before work.",
            "V60, 4:6 pours, {temp:.0f}°C.",
            "Pour-over, {dose:g} g dose, drawdown done at {mmss}.",
        ],
        "aeropress": [
            "AeroPress, inverted, {time:.0f} s steep.",
            "Quick AeroPress before a call.",
            "AeroPress with a paper filter, {temp:.0f}°C.",
        ],
    },
    "demo-ben": {
        "espresso": [
            "Espresso, {dose:g} g in, {water:.0f} g out in {time:.0f} s.",
            "Double shot on the home machine.",
            "Flat white this morning.",
            "Pulled it a bit short, {water:.0f} g out.",
            "Cortado at my local.",
        ],
        "french_press": [
            "French press, {mm} min steep.",
            "Big cafetière for the weekend.",
            "French press, coarse grind, {dose:g} g.",
        ],
    },
    "demo-kofi": {
        "pour_over": [
            "Kalita Wave, {temp:.0f}°C.",
            "V60 after lunch.",
            "Pour-over, {dose:g} g : {water:.0f} g.",
        ],
        "aeropress": [
            "AeroPress, {time:.0f} s.",
            "AeroPress on the go.",
            "AeroPress, {dose:g} g, stirred twice.",
        ],
        "cold_brew": [
            "Cold brew, steeped {hours} h, needed it in this heat.",
            "Cold brew concentrate over ice.",
        ],
    },
}

EN_FLAVOUR_HI = [
    "Loads of {a} and {b}.",
    "Getting {a}, {b} and a little {c}.",
    "Really clear {a}.",
    "{A} and {b}, so good.",
    "Big {a} note, then {b}.",
]
EN_FLAVOUR_MID = [
    "Getting {a} and {b}.",
    "{A} up front, {b} as it cools.",
    "Some {a}, a bit of {b}.",
    "Mostly {a}.",
]
EN_FLAVOUR_NEG = [
    "Supposed to be {a} and {b}.",
    "Bag says {a}.",
    "Some {a} in there somewhere.",
    "",
]
EN_VERDICT: dict[str, dict[str, list[str]]] = {
    "demo-ana": {
        "hi": [
            "Exactly my kind of coffee.",
            "Bright, clean, sparkling. Want another bag.",
            "So juicy. Top three this autumn.",
            "Tea-like and delicate, beautiful.",
            "This is why I drink washed coffees.",
        ],
        "mid": [
            "Nice enough, a bit muted for me.",
            "Pleasant, but I wanted more acidity.",
            "Solid, not memorable.",
            "Good, though the finish is a little flat.",
        ],
        "dark": [
            "Too roasty for me: ashy finish, the fruit is gone.",
            "Heavy and bitter, not my thing at all.",
            "Tastes like burnt toast to me.",
        ],
        "dark_mild": [
            "Too developed for me, the fruit is buried under caramel.",
            "Roasted a bit far for my taste, more toast than fruit.",
        ],
        "earthy": ["Muddy and earthy, couldn't find any brightness.", "Woody, dull, pass."],
        "funky": [
            "Way too boozy, the ferment drowns everything.",
            "Funky in a bad way, tastes overripe.",
        ],
        "generic": ["Flat and dull.", "Not for me."],
    },
    "demo-ben": {
        "hi": [
            "Proper chocolatey, heavy body. Love it.",
            "Great in milk, thick and sweet.",
            "Bold, bittersweet, exactly right.",
            "Like a brownie in a cup. Ordering more.",
        ],
        "mid": [
            "Decent but a bit thin for my taste.",
            "OK as espresso, better with milk.",
            "Fine. Not enough body.",
        ],
        "acidic": [
            "Way too sour. Like lemon juice.",
            "Sharp and thin, undrinkable as espresso.",
            "Tastes underdeveloped, sour and tea-like.",
        ],
        "floral": ["Perfumy and weak, not for me.", "Smells like a flower shop. No thanks."],
        "generic": ["Didn't do it for me.", "Meh."],
    },
    "demo-kofi": {
        "hi": [
            "Fruit bomb! Exactly the funk I'm after.",
            "Boozy, jammy, wild. Brilliant.",
            "Syrupy natural goodness, would brew again.",
            "Wild fruit everywhere, love this lot.",
        ],
        "mid": [
            "Nice, wish it had more fruit.",
            "Pleasant, a little one-dimensional.",
            "Good, not quite wild enough.",
            "Decent cup, nothing crazy.",
        ],
        "flat": ["Flat and boring, no fruit at all.", "Tastes like cardboard and nuts. Pass."],
        "decaf": ["Decaf, and you can tell. Hollow.", "Hollow and papery. Decaf problems."],
        "dark": ["Roast masks everything, all bitterness.", "Too dark, no fruit left."],
        "generic": ["Not for me.", "Didn't click."],
    },
}
EN_UNDER = ["A touch sour, grind finer next time.", "Ran fast and tastes thin; go finer."]
EN_OVER = ["Bit astringent, ran long. Coarser next time.", "Drying finish, over-extracted."]

KO_METHOD = {
    "demo-minji": {
        "pour_over": [
            "오리가미로 내렸어요.",
            "칼리타로 {temp:.0f}도에 추출.",
            "아침 핸드드립.",
            "핸드드립, {dose:g}g에 {water:.0f}g.",
            "V60으로 천천히 내렸어요.",
        ],
        "cold_brew": ["콜드브루로 {hours}시간 우렸어요.", "콜드브루, 얼음 가득."],
        "aeropress": ["에어로프레스로 가볍게.", "에어로프레스, {time:.0f}초."],
    },
    "demo-seojun": {
        "aeropress": [
            "사무실에서 에어로프레스.",
            "에어로프레스 {time:.0f}초 스티핑.",
            "점심 먹고 에어로프레스 한 잔.",
        ],
        "espresso": [
            "카페에서 에스프레소로 마셔봤어요.",
            "에스프레소 {dose:g}g 인, {water:.0f}g 아웃.",
            "라떼로 마셨어요.",
        ],
        "pour_over": ["주말 아침 핸드드립.", "하리오 V60로 추출.", "집에서 칼리타로 내림."],
    },
}
KO_FLAVOUR_HI = [
    "{a_wa} {b} 향이 선명해요.",
    "{a} 느낌이 좋고 {b}도 살짝.",
    "{a}, {b}, {c}까지 느껴져요.",
    "{a_ga} 또렷해요.",
]
KO_FLAVOUR_MID = [
    "{a_ga} 먼저 느껴지고 식으면서 {b_ga} 올라와요.",
    "{a_wa} {b} 정도 느껴져요.",
    "{a} 향이 살짝 나요.",
]
KO_FLAVOUR_NEG = ["{a_rago} 하는데 잘 모르겠어요.", "{a} 향은 조금 나요.", ""]
KO_VERDICT: dict[str, dict[str, list[str]]] = {
    "demo-minji": {
        "hi": [
            "꽃향이 정말 예뻐요. 재구매 의사 있어요.",
            "차처럼 맑고 섬세해서 너무 좋았어요.",
            "오늘의 인생 커피. 향이 오래 남아요.",
            "깔끔하고 화사해요. 딱 제 취향!",
        ],
        "mid": [
            "무난하게 맛있지만 향이 조금 아쉬워요.",
            "괜찮은데 바디가 살짝 무거워요.",
            "평범하게 맛있어요.",
        ],
        "dark": ["너무 쓰고 탄 맛이 나서 제 취향은 아니에요.", "쓴맛이 강해서 반만 마셨어요."],
        "dark_mild": ["로스팅이 조금 강해서 쓴맛이 도드라져요.", "향이 묻히고 구운 맛만 남아요."],
        "funky": ["발효취가 너무 강해서 끝까지 못 마셨어요.", "술 같은 향이 부담스러워요."],
        "earthy": ["흙내음이 강하고 텁텁해요.", "나무 향이 너무 세고 답답해요."],
        "heavy": ["바디가 너무 무겁고 답답해요."],
        "generic": ["특징이 없고 밋밋해요.", "저랑은 안 맞아요."],
    },
    "demo-seojun": {
        "hi": [
            "달달하고 고소해서 딱 좋네요.",
            "밸런스 최고. 매일 마시고 싶어요.",
            "캐러멜 같은 단맛이 오래가요. 재구매!",
            "부드럽고 편안해요. 회사에 쟁여둘 듯.",
        ],
        "mid": [
            "나쁘지 않은데 조금 심심해요.",
            "무난해요. 우유 넣으면 더 좋을 듯.",
            "괜찮아요. 특별하진 않아요.",
        ],
        "acidic": ["산미가 너무 강해서 시게 느껴져요.", "새콤함이 과해서 제 입맛엔 안 맞아요."],
        "funky": ["발효 향이 과해서 별로였어요.", "향이 너무 튀어서 부담스러워요."],
        "roast": [
            "너무 써서 아메리카노로도 힘들었어요.",
            "탄 맛이 강해서 우유 없이는 못 마시겠어요.",
        ],
        "earthy": ["흙 맛이 나서 별로예요."],
        "generic": ["기대보다 별로였어요.", "제 취향은 아니네요."],
    },
}
KO_UNDER = ["약간 시큼해서 다음엔 더 곱게 갈아볼게요.", "추출이 덜 된 듯 밍밍해요."]
KO_OVER = ["조금 과추출된 듯, 떫은 맛이 남아요.", "너무 오래 내렸는지 쓴맛이 남네요."]

LENA_METHOD = {
    "cold_brew": [
        "Cold brew {hours}시간 steep.",
        "Made cold brew overnight, 냉장고에서 {hours} h.",
        "콜드브루 concentrate with oat milk.",
    ],
    "french_press": [
        "French press at home, {mm}분.",
        "프렌치프레스, big mug for the morning.",
        "French press, {dose:g} g, lazy Sunday.",
        "French press, {mm}분 steep.",
    ],
    "pour_over": [
        "Tried a 핸드드립 at a café in Yeonnam-dong.",
        "Pour-over at the office, 대충 내림.",
    ],
}
LENA_FLAVOUR = ["{A}, {b} notes, 부드러워요.", "Lots of {a}, a bit of {b}.", "{A} 느낌."]
LENA_VERDICT = {
    "hi": [
        "So smooth, 완전 내 스타일.",
        "Heavy body, no sharp 산미. Perfect.",
        "Chocolatey and 고소해. Love it.",
        "Perfect with oat milk, 진짜 맛있어요.",
    ],
    "mid": ["Fine but a bit thin.", "괜찮아요, nothing special.", "OK, 무난."],
    "acidic": ["Too sour for me, 너무 셔요.", "산미 too sharp, not for my stomach."],
    "generic": ["Not my thing, 별로.", "Meh. 다시는 안 살 듯."],
}


# Descriptors that describe texture or style rather than a flavour: not quoted in notes.
NOT_A_FLAVOUR = {
    "decaf",
    "low acidity",
    "full body",
    "heavy body",
    "dark roast",
    "syrupy",
    "balanced",
    "clean",
    "silky",
    "creamy",
    "velvety",
    "buttery",
    "bold",
    "bittersweet",
    "juicy",
    "vibrant",
    "delicate",
    "smooth",
    "mellow",
    "tea-like",
    "thick crema",
    "malic",
    "monsooned",
}
# Adjectives that read better as nouns in "loads of X".
EN_NOUN = {
    "smoky": "smoke",
    "earthy": "earthiness",
    "herbal": "herbs",
    "floral": "florals",
    "winey": "red wine",
    "tropical": "tropical fruit",
    "nutty": "nuts",
    "jammy": "jam",
    "spice": "spice",
}


def _pick_descriptors(c: CoffeeInfo, rng: random.Random, korean: bool) -> list[str]:
    words = [d for d in c.descriptors if d not in NOT_A_FLAVOUR]
    if not korean:
        words = [EN_NOUN.get(d, d) for d in words]
    if korean:
        ko = [KO[d] for d in words if d in KO]
        if len(ko) < 3:
            ko += [KO_FAMILY[f] for f, v in sorted(c.fam.items(), key=lambda kv: -kv[1]) if v]
        words = list(dict.fromkeys(ko))
    rng.shuffle(words)
    while len(words) < 3:
        words.append(words[-1] if words else "coffee")
    return words[:3]


# A template that names a time, a place or a recipe is only used when it fits the tasting.
FitRule = Callable[[int, int, str, dict[str, float]], bool]
FITS: list[tuple[tuple[str, ...], FitRule]] = [
    (("morning", "Morning", "아침"), lambda h, wd, loc, m: h < 12),
    (("after lunch", "점심"), lambda h, wd, loc, m: 12 <= h <= 16),
    (("before work",), lambda h, wd, loc, m: wd < 5 and h < 10),
    (("before a call",), lambda h, wd, loc, m: wd < 5),
    (("office", "사무실"), lambda h, wd, loc, m: loc == "office"),
    (("café", "카페에서", "at my local"), lambda h, wd, loc, m: loc == "cafe"),
    (("at home", "집에서", "home machine"), lambda h, wd, loc, m: loc == "home"),
    (("Sunday",), lambda h, wd, loc, m: wd == 6),
    (("weekend", "주말"), lambda h, wd, loc, m: wd >= 5),
    (("on the go",), lambda h, wd, loc, m: loc in ("travel", "outdoors")),
    (("a bit short",), lambda h, wd, loc, m: m["brew_ratio"] < 2.0),
    (("fridge", "냉장고"), lambda h, wd, loc, m: m["water_temp_c"] < 10),
]


def _choose(
    templates: list[str], hour: int, weekday: int, location: str, brew: Brew, rng: random.Random
) -> str:
    ok = [
        t
        for t in templates
        if all(
            rule(hour, weekday, location, brew.metrics)
            for keys, rule in FITS
            if any(k in t for k in keys)
        )
    ]
    if not ok:
        raise ValueError(f"no note template fits {brew.method} at {hour}h, {location}")
    return rng.choice(ok)


def _fill(template: str, brew: Brew, words: list[str]) -> str:
    a, b, c = words
    m = brew.metrics
    secs = int(m["brew_time_s"])
    return template.format(
        a=a,
        b=b,
        c=c,
        A=a[:1].upper() + a[1:],
        a_wa=josa(a, "와"),
        a_ga=josa(a, "가"),
        b_ga=josa(b, "가"),
        a_rago=a + ("이라고" if batchim(a) else "라고"),
        dose=brew.dose,
        water=brew.water,
        temp=m["water_temp_c"],
        time=m["brew_time_s"],
        hours=brew.hours,
        mm=max(1, round(secs / 60)),
        mmss=f"{secs // 60}:{secs % 60:02d}",
    )


def write_note(
    user: User,
    c: CoffeeInfo,
    b: Brew,
    liking: float,
    reason: str,
    when: tuple[int, int, str],
    rng: random.Random,
) -> str:
    bucket = "hi" if liking >= 7.5 else "lo" if liking <= 4.5 else "mid"
    if user.lang == "ko":
        methods, verdicts, under, over = KO_METHOD[user.id], KO_VERDICT[user.id], KO_UNDER, KO_OVER
        flavours = {"hi": KO_FLAVOUR_HI, "mid": KO_FLAVOUR_MID, "lo": KO_FLAVOUR_NEG}
    elif user.lang == "mixed":
        methods, verdicts, under, over = LENA_METHOD, LENA_VERDICT, EN_UNDER, EN_OVER
        flavours = {"hi": LENA_FLAVOUR, "mid": LENA_FLAVOUR, "lo": LENA_FLAVOUR}
    else:
        methods, verdicts, under, over = EN_METHOD[user.id], EN_VERDICT[user.id], EN_UNDER, EN_OVER
        flavours = {"hi": EN_FLAVOUR_HI, "mid": EN_FLAVOUR_MID, "lo": EN_FLAVOUR_NEG}
    words = _pick_descriptors(c, rng, korean=user.lang == "ko")
    hour, weekday, location = when
    parts = [_fill(_choose(methods[b.method], hour, weekday, location, b, rng), b, words)]
    flavour = rng.choice(flavours[bucket])
    if flavour:
        parts.append(_fill(flavour, b, words))
    if bucket == "lo":
        if reason == "dark" and c.roast_idx <= 2 and "dark_mild" in verdicts:
            reason = "dark_mild"
        parts.append(rng.choice(verdicts.get(reason, verdicts["generic"])))
    else:
        parts.append(rng.choice(verdicts[bucket]))
    if b.extraction < -1.3:
        parts.append(rng.choice(under))
    elif b.extraction > 1.3:
        parts.append(rng.choice(over))
    return " ".join(p for p in parts if p)


# ============================================================================ context


def _hour(user: User, method: str, weekday: int, decaf: bool, rng: random.Random) -> int:
    weekend = weekday >= 5
    if decaf and user.id == "demo-lena":
        return rng.randint(19, 21)
    if method == "cold_brew":
        return rng.randint(13, 17)
    if user.id == "demo-seojun" and method == "aeropress" and not weekend:
        return rng.choice([9, 10, 13, 14, 15])
    if method == "espresso" and user.id == "demo-seojun":
        return rng.randint(12, 16)
    if weekend:
        return rng.randint(8, 12)
    return rng.choice([6, 7, 7, 8, 8, 9, 14, 15])


def _location(user: User, method: str, weekday: int, rng: random.Random) -> str:
    weekend = weekday >= 5
    if user.id == "demo-seojun":
        if method == "aeropress":
            return "home" if weekend else "office"
        if method == "espresso":
            return "cafe"
        return "home"
    if method == "espresso":
        return rng.choice(["home", "home", "home", "cafe"])
    if method == "cold_brew":
        return rng.choice(["home", "home", "outdoors", "office"])
    if method == "aeropress":
        return rng.choice(["home", "office", "travel"] if not weekend else ["home", "travel"])
    if user.id == "demo-lena" and method == "pour_over":
        return rng.choice(["cafe", "office"])
    return rng.choice(["home", "home", "home", "cafe"])


SOCIAL = {
    "home": ["alone", "alone", "partner", "family"],
    "cafe": ["friends", "alone", "partner"],
    "office": ["colleagues", "alone", "alone"],
    "outdoors": ["friends", "partner", "alone"],
    "travel": ["alone", "partner", "friends"],
}


def make_context(
    user: User, local: datetime, method: str, location: str, rng: random.Random
) -> dict[str, Any]:
    month_i = local.month - 9
    temp_mean, hum_mean = CLIMATE[user.city][month_i]
    weekday = local.weekday()
    work = weekday < 5
    stress = _clamp(round(rng.gauss(5.5 if work else 2.5, 1.5)), 0, 10)
    energy = _clamp(round(rng.gauss(4.0 if local.hour < 9 else 6.0, 1.5)), 0, 10)
    mood = _clamp(round(rng.gauss(user.base_mood + (0.8 if not work else 0.0), 1.4)), 0, 10)
    ctx: dict[str, Any] = {
        "hour": local.hour,
        "weekday": weekday,
        "weather_temp_c": _r1(temp_mean + rng.gauss(0, 2.5)),
        "humidity_pct": float(round(_clamp(hum_mean + rng.gauss(0, 7), 20, 100))),
        "mood": float(mood),
        "stress": float(stress),
        "energy": float(energy),
        "hunger": float(_clamp(round(rng.gauss(4.5 if local.hour < 10 else 3.5, 2)), 0, 10)),
        "social_setting": rng.choice(SOCIAL[location]),
        "location_type": location,
    }
    return ctx


# ============================================================================ tastings & feedback


def _day_slots(user: User, rng: random.Random) -> list[datetime]:
    start = datetime(2026, 9, 1)
    days = sorted(rng.sample(range(91), user.n))
    return [start + timedelta(days=d) for d in days]


def build_tastings(
    coffees: list[CoffeeInfo],
) -> tuple[list[dict[str, Any]], list[tuple[User, dict[str, Any], float]]]:
    records: list[dict[str, Any]] = []
    meta: list[tuple[User, dict[str, Any], float]] = []
    for user in USERS:
        rng = _rng("tastings", user.id)
        prefs = {c.id: preference(user, c) for c in coffees}
        counts: dict[str, int] = {}
        # A few tastings per user are coffees they dislike (a gift, a café's only option).
        least_liked = sorted(coffees, key=lambda c: prefs[c.id][0])[:20]
        dislike_slots = set(rng.sample(range(1, user.n + 1), 3))
        for k, day in enumerate(_day_slots(user, rng), start=1):
            explore = rng.random() < 0.18
            pool = [c for c in coffees if counts.get(c.id, 0) < 2]
            if k in dislike_slots:
                coffee = rng.choice([c for c in least_liked if c in pool])
            elif explore:
                coffee = rng.choice(pool)
            else:
                weights = [math.exp((prefs[c.id][0] - 6.0) / 1.1) for c in pool]
                coffee = rng.choices(pool, weights=weights)[0]
            counts[coffee.id] = counts.get(coffee.id, 0) + 1
            methods = list(user.methods)
            method = rng.choices(methods, weights=[user.methods[m] for m in methods])[0]
            if user.id == "demo-lena" and coffee.decaf:
                method = "french_press"
            b = brew(user, coffee, method, rng)
            location = _location(user, method, day.weekday(), rng)
            hour = _hour(user, method, day.weekday(), coffee.decaf, rng)
            if location in ("cafe", "office") and hour < 8:
                hour = rng.randint(9, 16)
            local = day.replace(hour=hour, minute=rng.randrange(0, 60, 5))
            ctx = make_context(user, local, method, location, rng)
            pref, reason = prefs[coffee.id]
            liking = (
                pref
                + 0.15 * (ctx["mood"] - 6)
                - 0.1 * (ctx["stress"] - 4)
                - 0.35 * abs(b.extraction)
                + rng.gauss(0.0, 0.5)
            )
            liking = _clamp(liking, 1.0, 10.0)
            metrics = {**b.metrics, **perceive(user, coffee, b, liking, rng)}
            when = (hour, local.weekday(), location)
            note = write_note(user, coffee, b, liking, reason, when, rng)
            roll = rng.random()
            context: dict[str, Any] | None = ctx
            if roll < 0.1:
                context = None
            elif roll < 0.38:
                drop = rng.sample(sorted(ctx), rng.randint(2, 6))
                context = {k2: v for k2, v in ctx.items() if k2 not in drop}
            ts = local.replace(tzinfo=utc_offset(user.tz, local))
            rec: dict[str, Any] = {
                "id": f"tasting:{user.id}:{k:03d}",
                "user": user.id,
                "coffee": coffee.id,
                "timestamp": ts.isoformat(),
                "notes": note,
                "metrics": metrics,
            }
            if context is not None:
                rec["context"] = context
            parse_record(rec)
            records.append(rec)
            meta.append((user, rec, liking))
    records.sort(key=lambda r: (parse_record(r).timestamp, r["id"]))
    return records, meta


RATES = {  # how each user tends to react: (p_feedback, p_rating_instead_of_like)
    "demo-ana": (0.75, 0.7),
    "demo-minji": (0.8, 0.5),
    "demo-ben": (0.7, 0.15),
    "demo-seojun": (0.7, 0.4),
    "demo-kofi": (0.75, 0.5),
    "demo-lena": (0.6, 0.3),
}


def build_feedback(
    coffees: list[CoffeeInfo], meta: list[tuple[User, dict[str, Any], float]]
) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    counters: dict[str, int] = {}

    def next_id(user_id: str) -> str:
        counters[user_id] = counters.get(user_id, 0) + 1
        return f"feedback:{user_id}:{counters[user_id]:03d}"

    for user, rec, liking in meta:
        rng = _rng("feedback", rec["id"])
        p_fb, p_rate = RATES[user.id]
        if rng.random() >= p_fb:
            continue
        ts = datetime.fromisoformat(rec["timestamp"]) + timedelta(minutes=rng.randint(10, 60 * 48))
        item: dict[str, Any] = {
            "id": next_id(user.id),
            "user": user.id,
            "coffee": rec["coffee"],
            "record": rec["id"],
            "timestamp": ts.isoformat(),
        }
        rating = int(_clamp(round(1 + (liking - 1) / 2.1), 1, 5))
        if rng.random() < p_rate or 4.5 < liking < 7.5:
            item["signal"] = "rated"
            item["rating"] = rating
        elif liking >= 7.5:
            item["signal"] = "liked"
        else:
            item["signal"] = "disliked"
        items.append(item)
    # Skips: recommendations each user passed on, among coffees they never tasted.
    tasted = {(u.id, r["coffee"]) for u, r, _ in meta}
    for user in USERS:
        rng = _rng("skips", user.id)
        untasted = [c for c in coffees if (user.id, c.id) not in tasted]
        untasted.sort(key=lambda c: preference(user, c)[0])
        for c in rng.sample(untasted[:15], 3):
            day = datetime(2026, 9, 1) + timedelta(days=rng.randrange(91), hours=rng.randint(7, 22))
            item = {
                "id": next_id(user.id),
                "user": user.id,
                "coffee": c.id,
                "signal": "skipped",
                "timestamp": day.replace(tzinfo=utc_offset(user.tz, day)).isoformat(),
            }
            items.append(item)
    for item in items:
        parse_feedback(item)
    items.sort(key=lambda f: (parse_feedback(f).timestamp, f["id"]))
    return items


# ============================================================================ main


def _jsonl(rows: list[dict[str, Any]]) -> str:
    return "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows)


def main() -> None:
    catalogue, infos = build_catalogue()
    records, meta = build_tastings(infos)
    feedback = build_feedback(infos, meta)
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "demo_catalogue.json").write_text(
        json.dumps(catalogue, ensure_ascii=False, indent=2) + "\n", encoding="utf-8"
    )
    (OUT / "demo_tastings.jsonl").write_text(_jsonl(records), encoding="utf-8")
    (OUT / "demo_feedback.jsonl").write_text(_jsonl(feedback), encoding="utf-8")
    print(
        f"wrote {len(catalogue)} coffees, {len(records)} tastings, {len(feedback)} feedback "
        f"items at {datetime.now(UTC):%Y-%m-%d}"
    )


if __name__ == "__main__":
    main()
