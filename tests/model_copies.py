"""A trained model's copy with slightly different weights: another weights version of the
same architecture, for registry, experiment and console tests that need two versions."""

from __future__ import annotations

import shutil
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file


def perturbed_copy(model_dir: Path, out: Path, seed: int = 7) -> Path:
    """Copy ``model_dir`` to ``out`` and nudge its first float tensor by 1e-4 noise."""
    shutil.copytree(model_dir, out)
    state = load_file(str(out / "model.safetensors"))
    generator = torch.Generator().manual_seed(seed)
    for name, tensor in state.items():
        if tensor.is_floating_point():
            state[name] = tensor + 1e-4 * torch.randn(tensor.shape, generator=generator)
            break
    save_file(state, str(out / "model.safetensors"))
    return out
