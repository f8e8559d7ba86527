"""The 20 named numeric metrics of a tasting, with units and allowed ranges.

The seed design names ten (water temperature, grind size, brew ratio, brew
time, acidity, sweetness, bitterness, body, aftertaste, balance). We add ten
more, each because real data or brewing practice needs it:

- ``dose_g``, ``tds_pct``, ``extraction_yield_pct``: the SCA brewing control
  chart; strength and extraction explain most "sour" or "bitter" complaints.
- ``roast_agtron``: roast degree, the strongest driver of bitterness and body;
  Coffee Review publishes it for every review.
- ``aroma``, ``flavor``, ``clean_cup``, ``uniformity``, ``overall``: the SCA
  cupping form, present in CQI and (aroma, flavor) in Coffee Review.
- ``astringency``: the drying sensation from the WCR Sensory Lexicon, the most
  common defect note home brewers report.

Sensory metrics use one 0-10 point intensity/quality scale, as on the SCA form and
Coffee Review. A missing value is ``None`` and reaches the model as a masked
input, never as a silent 0.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

MetricGroup = Literal["brew", "sensory"]


@dataclass(frozen=True, slots=True)
class MetricSpec:
    """One numeric input: its name, unit, allowed range and meaning."""

    name: str
    unit: str
    low: float
    high: float
    group: MetricGroup
    description: str

    def describe_range(self) -> str:
        unit = f" {self.unit}" if self.unit else ""
        return f"{self.low:g} to {self.high:g}{unit}"


METRICS: tuple[MetricSpec, ...] = (
    # --- the seed's brew variables
    MetricSpec("water_temp_c", "°C", 0, 100, "brew", "Brew water temperature (cold brew near 4)."),
    MetricSpec("grind_size_um", "µm", 100, 2000, "brew", "Median particle size of the grind."),
    MetricSpec("brew_ratio", "g water / g coffee", 1, 30, "brew", "Water to coffee ratio."),
    MetricSpec("brew_time_s", "s", 1, 86400, "brew", "Total contact time (cold brew up to 24 h)."),
    # --- the seed's sensory intensities (0-10)
    MetricSpec("acidity", "points", 0, 10, "sensory", "Perceived acidity / brightness."),
    MetricSpec("sweetness", "points", 0, 10, "sensory", "Perceived sweetness."),
    MetricSpec("bitterness", "points", 0, 10, "sensory", "Perceived bitterness."),
    MetricSpec("body", "points", 0, 10, "sensory", "Weight and texture in the mouth."),
    MetricSpec("aftertaste", "points", 0, 10, "sensory", "Length and pleasantness of the finish."),
    MetricSpec("balance", "points", 0, 10, "sensory", "How well the attributes fit together."),
    # --- our ten additions
    MetricSpec("dose_g", "g", 1, 100, "brew", "Dry coffee dose."),
    MetricSpec("tds_pct", "%", 0, 20, "brew", "Total dissolved solids of the beverage."),
    MetricSpec("extraction_yield_pct", "%", 0, 40, "brew", "Share of the dose dissolved."),
    MetricSpec("roast_agtron", "Agtron", 0, 150, "brew", "Roast colour (ground); low = dark."),
    MetricSpec("aroma", "points", 0, 10, "sensory", "Fragrance and aroma intensity/quality."),
    MetricSpec("flavor", "points", 0, 10, "sensory", "Flavour intensity/quality."),
    MetricSpec("clean_cup", "points", 0, 10, "sensory", "Absence of defects and off notes."),
    MetricSpec("uniformity", "points", 0, 10, "sensory", "Consistency from cup to cup."),
    MetricSpec("astringency", "points", 0, 10, "sensory", "Drying, puckering sensation."),
    MetricSpec("overall", "points", 0, 10, "sensory", "Overall liking / cupper's score."),
)

METRIC_NAMES: tuple[str, ...] = tuple(m.name for m in METRICS)
METRIC_BY_NAME: dict[str, MetricSpec] = {m.name: m for m in METRICS}
SENSORY_METRICS: tuple[str, ...] = tuple(m.name for m in METRICS if m.group == "sensory")
N_METRICS = len(METRICS)

assert N_METRICS == 20, "Taste2Vec has exactly 20 numeric metrics"  # noqa: S101
