"""Fixtures for the experiment workflow: a second model version (other weights).

MLflow's SQLAlchemy store uses a loader option SQLAlchemy 2.1 deprecates (``noload``);
that warning is MLflow's (the pytest config ignores it too).
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file, save_file


def perturbed_copy(source: Path, out: Path, scale: float, seed: int) -> Path:
    """``source`` with noise of ``scale`` added to every floating weight."""
    shutil.copytree(source, out)
    state = load_file(str(out / "model.safetensors"))
    generator = torch.Generator().manual_seed(seed)
    for name, tensor in state.items():
        if tensor.is_floating_point():
            state[name] = tensor + scale * torch.randn(tensor.shape, generator=generator)
    save_file(state, str(out / "model.safetensors"))
    return out


@pytest.fixture(scope="session")
def other_model_dir(tiny_model_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``tiny_model_dir`` with slightly different weights (another weights version)."""
    return perturbed_copy(tiny_model_dir, tmp_path_factory.mktemp("exp-v2") / "model", 1e-4, 7)
