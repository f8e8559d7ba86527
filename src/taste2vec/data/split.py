"""Time-based train / validation / test split, shared by training and evaluation.

Reviews are ordered by date (a stable sort, so reviews of the same date keep
their original order) and cut into three consecutive blocks: the oldest rows
train, the ``val_fraction`` just before the newest rows validate, and the newest
``test_fraction`` test. Indices are positions (0..n-1) in the input, whatever
index a :class:`pandas.Series` carries.

By default a cut never falls inside a run of equal dates: it moves to the
nearest date boundary, so every date belongs to exactly one block and the report
can truthfully print ``train ≤ 2021-06-30 < test``. Coffee Review dates have
month resolution, so this moves a cut by at most half a month of reviews. Pass
``keep_ties_together=False`` for exact block sizes (then a boundary date may
appear on both sides, and :meth:`SplitIndices.describe` prints ``≤``).

:func:`split_reviews` is the one split of Coffee Review: the oldest 70 % train, the next
10 % validate, the newest 20 % are held out. Training (``taste2vec.training.corpus``),
evaluation (``taste2vec evaluate``) and the edge parity gate all call it, so they agree on
which reviews were never trained on. It lives here, below both, so neither imports the other.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from taste2vec.errors import DataError, SchemaError

__all__ = ["TEST_FRACTION", "VAL_FRACTION", "SplitIndices", "split_reviews", "time_split"]

TEST_FRACTION = 0.2
VAL_FRACTION = 0.1

IntArray = np.ndarray[Any, np.dtype[np.int64]]
if TYPE_CHECKING:  # pandas classes are not subscriptable at run time
    DateLike = Sequence[Any] | np.ndarray[Any, Any] | pd.Series[Any] | pd.Index[Any]


@dataclass(frozen=True)
class SplitIndices:
    """Row positions of each block, plus the dates at the block boundaries.

    ``train``, ``val`` and ``test`` are int64 position arrays in date order
    (oldest first). ``val`` may be empty (``val_fraction=0``); then ``val_start``
    and ``val_end`` are ``None``.
    """

    train: IntArray
    val: IntArray
    test: IntArray
    train_end: pd.Timestamp
    val_start: pd.Timestamp | None
    val_end: pd.Timestamp | None
    test_start: pd.Timestamp

    def describe(self) -> str:
        """One line such as ``train ≤ 2021-06-30 < val ≤ 2021-09-30 < test (700/100/200 rows)``."""

        def day(ts: pd.Timestamp) -> str:
            return str(ts.date())

        parts = [f"train ≤ {day(self.train_end)}"]
        last_end = self.train_end
        if self.val_start is not None and self.val_end is not None:
            parts.append(f"{'<' if self.val_start > last_end else '≤'} val ≤ {day(self.val_end)}")
            last_end = self.val_end
        parts.append(f"{'<' if self.test_start > last_end else '≤'} test")
        sizes = f"{len(self.train)}/{len(self.val)}/{len(self.test)} rows"
        return f"{' '.join(parts)} ({sizes})"


def _validate_fractions(test_fraction: float, val_fraction: float) -> None:
    errors: list[tuple[str, str]] = []
    if not 0.0 < test_fraction < 1.0:
        errors.append(("test_fraction", f"must be > 0 and < 1, got {test_fraction!r}"))
    if not 0.0 <= val_fraction < 1.0:
        errors.append(("val_fraction", f"must be >= 0 and < 1, got {val_fraction!r}"))
    if not errors and test_fraction + val_fraction >= 1.0:
        errors.append(
            (
                "val_fraction",
                f"test_fraction + val_fraction must be < 1 to leave training rows, "
                f"got {test_fraction} + {val_fraction}",
            )
        )
    if errors:
        detail = "; ".join(f"{field} {msg}" for field, msg in errors)
        raise SchemaError(f"Invalid split fractions: {detail}.", errors)


def _to_datetimes(dates: DateLike) -> pd.Series[Any]:
    values = dates.to_numpy() if isinstance(dates, pd.Series | pd.Index) else np.asarray(dates)
    if values.ndim != 1:
        raise SchemaError(f"dates must be one-dimensional, got shape {values.shape}.")
    try:
        parsed = pd.Series(pd.to_datetime(values))
    except (ValueError, TypeError) as exc:
        raise SchemaError(f"dates could not be parsed as dates: {exc}") from exc
    missing = int(parsed.isna().sum())
    if missing:
        first = int(np.flatnonzero(parsed.isna().to_numpy())[0])
        raise SchemaError(
            f"{missing} of {len(parsed)} dates are missing (first at position {first}); "
            "drop or fill those rows before splitting.",
            [(f"dates[{first}]", "missing date")],
        )
    if isinstance(parsed.dtype, pd.DatetimeTZDtype):
        parsed = parsed.dt.tz_convert("UTC").dt.tz_localize(None)
    return parsed


def _snap(cut: int, keys: np.ndarray[Any, Any], lo: int, hi: int) -> int:
    """Move ``cut`` (a position in sorted ``keys``) to the nearest date boundary in [lo, hi].

    A boundary is a position p with keys[p-1] != keys[p] (or p in {0, n}). When both
    neighbours are equally near the earlier one wins; a boundary outside [lo, hi]
    is only used if the other is outside too.
    """
    n = len(keys)
    if cut <= 0 or cut >= n or keys[cut - 1] != keys[cut]:
        return cut
    value = keys[cut]
    before = int(np.searchsorted(keys, value, side="left"))
    after = int(np.searchsorted(keys, value, side="right"))
    options = sorted((before, after), key=lambda p: (abs(p - cut), p))
    for p in options:
        if lo <= p <= hi:
            return p
    return options[0]


def time_split(
    dates: DateLike,
    test_fraction: float = 0.2,
    val_fraction: float = 0.1,
    *,
    keep_ties_together: bool = True,
) -> SplitIndices:
    """Split rows by date into train (oldest), validation and test (newest).

    ``dates`` holds anything :func:`pandas.to_datetime` understands (strings,
    ``datetime``/``date`` objects, ``datetime64``). Block sizes are
    ``round(n * fraction)``, at least one row for a non-zero fraction, adjusted to
    date boundaries unless ``keep_ties_together`` is false (see module docstring).

    Raises :class:`~taste2vec.errors.SchemaError` (a ``ValueError``) for bad
    fractions or missing/unparseable dates, and :class:`~taste2vec.errors.DataError`
    when the rows cannot fill non-empty train and test blocks.
    """
    _validate_fractions(test_fraction, val_fraction)
    parsed = _to_datetimes(dates)
    n = len(parsed)
    keys = parsed.to_numpy(dtype="datetime64[ns]").astype(np.int64)
    order = np.argsort(keys, kind="stable").astype(np.int64)
    sorted_keys = keys[order]

    n_test = max(1, round(n * test_fraction))
    n_val = max(1, round(n * val_fraction)) if val_fraction > 0 else 0
    if n - n_test - n_val < 1:
        raise DataError(
            f"{n} rows are too few for test_fraction={test_fraction} and "
            f"val_fraction={val_fraction}: the training block would be empty."
        )
    test_cut = n - n_test
    val_cut = test_cut - n_val
    if keep_ties_together:
        test_cut = _snap(test_cut, sorted_keys, lo=1, hi=n - 1)
        val_cut = _snap(val_cut, sorted_keys, lo=1, hi=test_cut) if n_val else test_cut
        if not 1 <= test_cut <= n - 1:
            raise DataError(
                "All dates are equal, so no date boundary separates train from test; "
                "pass keep_ties_together=False to split rows of the same date."
            )
        val_cut = min(max(val_cut, 1), test_cut)

    train, val, test = order[:val_cut], order[val_cut:test_cut], order[test_cut:]
    stamps = pd.to_datetime(sorted_keys)
    return SplitIndices(
        train=train,
        val=val,
        test=test,
        train_end=stamps[val_cut - 1],
        val_start=stamps[val_cut] if len(val) else None,
        val_end=stamps[test_cut - 1] if len(val) else None,
        test_start=stamps[test_cut],
    )


def split_reviews(reviews: pd.DataFrame) -> SplitIndices:
    """The one time split of Coffee Review used by training and evaluation (module docstring)."""
    return time_split(reviews["review_date"], TEST_FRACTION, VAL_FRACTION)
