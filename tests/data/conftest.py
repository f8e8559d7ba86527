"""Fixtures for the data-loader tests.

The research datasets are read from ``../shared/datasets`` beside the checkout;
tests that need them are skipped (with the reason) when the folder is absent.
Coffee Review data is never copied into the repository: tests only read it.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

SHARED_DATASETS = Path(__file__).resolve().parents[2].parent / "shared" / "datasets"


@pytest.fixture(scope="session")
def datasets_dir() -> Path:
    """The shared datasets folder, or skip."""
    if not (SHARED_DATASETS / "coffeereview").is_dir() or not (SHARED_DATASETS / "cqi").is_dir():
        pytest.skip(f"research datasets not found at {SHARED_DATASETS} (../shared/datasets)")
    return SHARED_DATASETS


@pytest.fixture(scope="session")
def reviews(datasets_dir: Path) -> pd.DataFrame:
    """``load_reviews`` on the real files, loaded once per session."""
    from taste2vec.data.coffeereview import load_reviews

    return load_reviews(datasets_dir)


@pytest.fixture(scope="session")
def score_only(datasets_dir: Path) -> pd.DataFrame:
    """``load_score_only`` on the real files, loaded once per session."""
    from taste2vec.data.coffeereview import load_score_only

    return load_score_only(datasets_dir)


@pytest.fixture(scope="session")
def cqi() -> pd.DataFrame:
    """``load_cqi`` on the bundled copy (always available)."""
    from taste2vec.data.cqi import load_cqi

    return load_cqi()
