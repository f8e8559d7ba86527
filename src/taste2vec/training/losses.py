"""Training objectives: cross-modal agreement, sensory regression, family prediction."""

from __future__ import annotations

import torch
from torch import nn


def info_nce(a: torch.Tensor, b: torch.Tensor, temperature: float = 0.1) -> torch.Tensor:
    """Symmetric InfoNCE: row i of ``a`` should match row i of ``b`` among all rows."""
    if a.shape[0] < 2:
        return a.new_zeros(())
    logits = a @ b.T / temperature
    target = torch.arange(a.shape[0], device=a.device)
    return 0.5 * (
        nn.functional.cross_entropy(logits, target) + nn.functional.cross_entropy(logits.T, target)
    )


def masked_mse(pred: torch.Tensor, target: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Mean squared error over observed entries only (0 when nothing is observed)."""
    n = mask.sum()
    if n <= 0:
        return pred.new_zeros(())
    return (((pred - target) ** 2) * mask).sum() / n


def masked_bce(logits: torch.Tensor, target: torch.Tensor, row_mask: torch.Tensor) -> torch.Tensor:
    """Multi-label BCE averaged over the rows where ``row_mask`` is 1."""
    rows = row_mask.view(-1) > 0
    if not bool(rows.any()):
        return logits.new_zeros(())
    return nn.functional.binary_cross_entropy_with_logits(logits[rows], target[rows])
