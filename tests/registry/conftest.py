"""Fixtures for the model registry: two distinct small models, registries per module.

MLflow's own SQLAlchemy store uses a loader option SQLAlchemy 2.1 deprecates (``noload``);
that warning is MLflow's, not ours, so it is not an error here.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.model_copies import perturbed_copy


@pytest.fixture(scope="session")
def second_model_dir(tiny_model_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``tiny_model_dir`` with slightly different weights (another weights version)."""
    return perturbed_copy(tiny_model_dir, tmp_path_factory.mktemp("tiny2") / "model")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "tests/registry" in str(item.path):
            item.add_marker(
                pytest.mark.filterwarnings(
                    "ignore:The ``noload`` loader strategy is deprecated"
                    ":sqlalchemy.exc.SADeprecationWarning"
                )
            )
