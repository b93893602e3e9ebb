"""What one training step minimises: the MSE plus the optional grid and rate terms, kept apart so that each
can be logged and checked against the sum (a term that is computed but left out of the sum trains nothing,
and nothing else shows it)."""

from __future__ import annotations

from dataclasses import dataclass

import torch

from compact.training import grid, rate
from compact.training.model import Pass


@dataclass(frozen=True)
class LossTerms:
    """One batch's loss, term by term, each already weighted; ``bpp`` is the rate term's unweighted bits per
    pixel (None without a context table)."""

    mse: torch.Tensor
    grid: torch.Tensor
    rate: torch.Tensor
    bpp: float | None

    @property
    def total(self) -> torch.Tensor:
        return self.mse + self.grid + self.rate


def training_loss(result: Pass, x: torch.Tensor, *, grid_weight: float = 0.0, table: rate.ContextRate | None = None,
                  rate_weight: float = 0.0, rate_exponent: float = 0.0, first_level: int = 1) -> LossTerms:  # fmt: skip
    """The loss of a pass over the batch ``x``: MSE on RGB in [0, 1], ``grid_weight`` times the grid penalty
    (grid.periodic_error) when it is positive, and the per-level weighted expected code length under
    ``table`` (rate.level_weights) when there is one."""
    mse = torch.mean((result.image.float() - x) ** 2)
    zero = mse.new_zeros(())
    grid_term = grid_weight * grid.periodic_error(result.image, x).mean() if grid_weight else zero
    rate_term, bpp = zero, None
    if table is not None:
        cells = table.bits_per_cell(result.latent, result.bits)
        per_sample = rate.rate_bpp(cells, result.counts, x.shape[2] * x.shape[3])
        weights = rate.level_weights(result.counts, rate_weight, rate_exponent, first_level)
        rate_term, bpp = torch.mean(weights * per_sample), per_sample.mean().item()
    return LossTerms(mse, grid_term, rate_term, bpp)
