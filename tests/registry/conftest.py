"""Fixtures for the model registry: two distinct small models, registries per module.

MLflow's own SQLAlchemy store uses a loader option SQLAlchemy 2.1 deprecates (``noload``);
that warning is MLflow's, not ours, so it is not an error here.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file, save_file


@pytest.fixture(scope="session")
def second_model_dir(tiny_model_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``tiny_model_dir`` with slightly different weights (another weights version)."""
    out = tmp_path_factory.mktemp("tiny2") / "model"
    shutil.copytree(tiny_model_dir, out)
    state = load_file(str(out / "model.safetensors"))
    generator = torch.Generator().manual_seed(7)
    for name, tensor in state.items():
        if tensor.is_floating_point():
            state[name] = tensor + 1e-4 * torch.randn(tensor.shape, generator=generator)
            break
    save_file(state, str(out / "model.safetensors"))
    return out


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "tests/registry" in str(item.path):
            item.add_marker(
                pytest.mark.filterwarnings(
                    "ignore:The ``noload`` loader strategy is deprecated"
                    ":sqlalchemy.exc.SADeprecationWarning"
                )
            )
