"""Tests for the time-based split."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest

from taste2vec.data.split import time_split
from taste2vec.errors import DataError, SchemaError, Taste2VecError


def _shuffled_days(n: int, seed: int = 0) -> tuple[list[pd.Timestamp], np.ndarray]:
    days = list(pd.date_range("2019-01-01", periods=n, freq="D"))
    perm = np.random.default_rng(seed).permutation(n)
    return [days[i] for i in perm], perm


def test_blocks_are_consecutive_in_time_and_sized_by_fraction() -> None:
    dates, _ = _shuffled_days(100)
    split = time_split(dates, test_fraction=0.2, val_fraction=0.1)
    assert (len(split.train), len(split.val), len(split.test)) == (70, 10, 20)
    stamps = pd.to_datetime(pd.Series(dates)).to_numpy()
    assert stamps[split.train].max() < stamps[split.val].min()
    assert stamps[split.val].max() < stamps[split.test].min()
    # Every row in exactly one block; positions, not labels.
    everything = np.concatenate([split.train, split.val, split.test])
    assert sorted(everything.tolist()) == list(range(100))
    assert split.train.dtype == np.int64
    # Blocks are in date order.
    assert np.all(np.diff(stamps[split.test]) > np.timedelta64(0))


def test_boundary_dates_and_description() -> None:
    dates = pd.date_range("2021-01-01", periods=10, freq="D")
    split = time_split(dates, test_fraction=0.2, val_fraction=0.1)
    assert split.train_end == pd.Timestamp("2021-01-07")
    assert split.val_start == split.val_end == pd.Timestamp("2021-01-08")
    assert split.test_start == pd.Timestamp("2021-01-09")
    assert split.describe() == "train ≤ 2021-01-07 < val ≤ 2021-01-08 < test (7/1/2 rows)"


def test_no_validation_block() -> None:
    split = time_split(pd.date_range("2021-01-01", periods=10), test_fraction=0.3, val_fraction=0)
    assert len(split.val) == 0 and split.val_start is None and split.val_end is None
    assert split.describe() == "train ≤ 2021-01-07 < test (7/0/3 rows)"


def test_accepts_strings_dates_numpy_and_series_with_any_index() -> None:
    strings = [f"2020-01-{d:02d}" for d in (5, 1, 3, 2, 4)]
    expected = time_split(strings, 0.2, 0.0)
    assert expected.test.tolist() == [0]
    as_dates = [dt.date.fromisoformat(s) for s in strings]
    as_np = np.array(strings, dtype="datetime64[D]")
    as_series = pd.Series(pd.to_datetime(strings), index=[10, 20, 30, 40, 50])
    for dates in (as_dates, as_np, as_series):
        got = time_split(dates, 0.2, 0.0)
        assert got.train.tolist() == expected.train.tolist() == [1, 3, 2, 4]
        assert got.test.tolist() == [0]


def test_ties_are_kept_in_original_order_and_on_one_side() -> None:
    # Month-resolution dates, as on Coffee Review: 4 per month.
    months = ["2020-01-01", "2020-02-01", "2020-03-01", "2020-04-01", "2020-05-01"]
    dates = [m for m in months for _ in range(4)][::-1]  # newest first in the input
    split = time_split(dates, test_fraction=0.3, val_fraction=0.0)  # target 6 rows: 4 or 8
    stamps = pd.to_datetime(pd.Series(dates)).to_numpy()
    assert stamps[split.train].max() < stamps[split.test].min()
    assert len(split.test) in (4, 8)
    assert split.describe().startswith("train ≤ 2020-0")
    # Stable sort: within a date, original positions ascend.
    first_month = split.train[:4]
    assert first_month.tolist() == [16, 17, 18, 19]


def test_exact_sizes_when_ties_may_straddle() -> None:
    dates = ["2020-01-01"] * 6 + ["2020-02-01"] * 4
    split = time_split(dates, test_fraction=0.3, val_fraction=0.0, keep_ties_together=False)
    assert (len(split.train), len(split.test)) == (7, 3)
    assert split.test.tolist() == [7, 8, 9]
    split = time_split(dates, test_fraction=0.5, val_fraction=0.0, keep_ties_together=False)
    assert split.train.tolist() == [0, 1, 2, 3, 4]  # ties broken by original index
    assert "≤ test" in split.describe()


def test_test_is_never_older_than_train_randomised() -> None:
    rng = np.random.default_rng(1)
    for _ in range(50):
        n = int(rng.integers(5, 60))
        dates = pd.to_datetime("2020-01-01") + pd.to_timedelta(rng.integers(0, 8, n), unit="D")
        if dates.nunique() < 2:
            continue
        for keep in (True, False):
            split = time_split(dates, 0.25, 0.15, keep_ties_together=keep)
            values = dates.to_numpy()
            assert len(split.train) and len(split.test)
            assert values[split.train].max() <= values[split.test].min()
            if keep:
                assert values[split.train].max() < values[split.test].min()


@pytest.mark.parametrize(
    ("test_fraction", "val_fraction", "field"),
    [
        (0.0, 0.1, "test_fraction"),
        (1.0, 0.0, "test_fraction"),
        (-0.1, 0.1, "test_fraction"),
        (0.2, -0.1, "val_fraction"),
        (0.2, 1.0, "val_fraction"),
        (0.6, 0.4, "val_fraction"),
        (float("nan"), 0.1, "test_fraction"),
    ],
)
def test_fraction_validation(test_fraction: float, val_fraction: float, field: str) -> None:
    with pytest.raises(SchemaError, match=field) as info:
        time_split(pd.date_range("2020-01-01", periods=10), test_fraction, val_fraction)
    assert isinstance(info.value, ValueError)
    assert info.value.errors[0][0] == field


def test_missing_and_unparseable_dates() -> None:
    with pytest.raises(SchemaError, match="1 of 3 dates are missing"):
        time_split(["2020-01-01", None, "2020-01-03"])
    with pytest.raises(SchemaError, match="could not be parsed"):
        time_split(["2020-01-01", "not a date", "2020-01-03"])


def test_too_few_rows_or_one_date() -> None:
    with pytest.raises(DataError, match="too few"):
        time_split(["2020-01-01", "2020-01-02"], 0.5, 0.4)
    with pytest.raises(Taste2VecError, match="All dates are equal"):
        time_split(["2020-01-01"] * 10)
