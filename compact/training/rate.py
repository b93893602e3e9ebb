"""The entropy coder's context model as a learnable table, and the rate term it gives the training loss.

``compact.entropy`` codes each bit with P(bit = 1) looked up by (channel, pass, context). Here the same
table is a tensor of logits trained jointly with the networks: the loss adds the expected code length of
the bits the encoder emits under that table, so the encoder learns to emit bits the coder predicts well
and the table learns the encoder's statistics. After training the logits are rounded into the coder's
integer table (``ContextModel.from_logits``): the decode path stays integer-only and deterministic.

The contexts are computed from the sampled bits exactly as ``compact.entropy.contexts`` computes them
(tested cell by cell); the expected length of a stochastic bit with P(+1) = q = (1 + y) / 2 is
q * -log2 p + (1 - q) * -log2 (1 - p), which carries a gradient into the latent y and into p.
"""

from __future__ import annotations

import math
from pathlib import Path

import torch
import torch.nn.functional as F
from safetensors.torch import load_file, save_file
from torch import nn

from compact.entropy import NEIGHBOUR_STATES, PREV_CHANNELS
from compact.errors import ModelError
from compact.files import write_with

RATE_FILE = "rate.safetensors"
CONTEXTS = (1 << PREV_CHANNELS) * NEIGHBOUR_STATES
_CROSS = torch.tensor([[0.0, 1.0, 0.0], [1.0, 0.0, 1.0], [0.0, 1.0, 0.0]])


def anchor_mask(h: int, w: int, device: torch.device | None = None) -> torch.Tensor:
    """True where (row + col) is even: the cells coded in the first pass of every channel."""
    return (torch.arange(h, device=device)[:, None] + torch.arange(w, device=device)[None, :]) % 2 == 0


def _neighbours(planes: torch.Tensor) -> torch.Tensor:
    """How many of the 4 neighbours of each cell are 1, outside counting as 0; (B, C, h, w) -> same."""
    b, c, h, w = planes.shape
    kernel = _CROSS.to(planes.device, planes.dtype)[None, None]
    return F.conv2d(planes.reshape(b * c, 1, h, w), kernel, padding=1).reshape(b, c, h, w)


def context_index(bits: torch.Tensor) -> torch.Tensor:
    """Index into the flattened (C, 2, CONTEXTS) table for every cell of (B, C, h, w) {0, 1} bits.

    Anchor cells of channel c: the K previous channels' bits at the cell, and the set neighbours in channel
    c - 1; other cells: the same previous bits and the set (anchor) neighbours in channel c.
    """
    bits = bits.float()
    b, c, h, w = bits.shape
    padded = F.pad(bits, (0, 0, 0, 0, PREV_CHANNELS, 0))  # K zero channels in front
    prev = sum(padded[:, PREV_CHANNELS - k : PREV_CHANNELS - k + c] * (1 << (k - 1))
               for k in range(1, PREV_CHANNELS + 1))  # fmt: skip
    anchor = anchor_mask(h, w, bits.device)
    below = _neighbours(F.pad(bits, (0, 0, 0, 0, 1, 0))[:, :c])  # neighbours in channel c - 1 (0 for c = 0)
    own = _neighbours(bits * anchor)
    ctx = prev * NEIGHBOUR_STATES + torch.where(anchor, below, own)
    passes = (~anchor).long()  # 0 = anchors, 1 = the rest
    channel = torch.arange(c, device=bits.device)[None, :, None, None]
    return ((channel * 2 + passes) * CONTEXTS + ctx.long())


class ContextRate(nn.Module):
    """Learnable logits of P(bit = 1) per (channel, pass, context), the shape of the coder's table."""

    def __init__(self, channels: int):
        super().__init__()
        self.logits = nn.Parameter(torch.zeros(channels, 2, CONTEXTS))

    def _logits_at(self, bits: torch.Tensor) -> torch.Tensor:
        """The table's logit for every cell of ±1 ``bits``, in the context those bits give it."""
        return self.logits.reshape(-1)[context_index((bits.detach() > 0).float())]

    def bits_per_cell(self, latent: torch.Tensor, bits: torch.Tensor) -> torch.Tensor:
        """Expected code length in bits of every cell: the stochastic bit of ``latent`` (P(+1) = (1 + y) / 2)
        under the table, in the contexts of the bits actually drawn (``bits``, ±1). (B, C, h, w)."""
        logit = self._logits_at(bits)
        q = (1.0 + latent.float()) * 0.5
        return -(q * F.logsigmoid(logit) + (1.0 - q) * F.logsigmoid(-logit)) / math.log(2.0)

    def bits_of(self, bits: torch.Tensor) -> torch.Tensor:
        """Code length in bits of each cell of fixed ±1 bits under the table (what the coder would spend)."""
        logit = self._logits_at(bits)
        return -F.logsigmoid(torch.where(bits > 0, logit, -logit)) / math.log(2.0)

    @torch.no_grad()
    def fit(self, bits: torch.Tensor) -> None:
        """Set the table to the Krichevsky–Trofimov estimate counted over ±1 ``bits`` (B, C, h, w): a
        starting point near the optimum, so the rate term is meaningful from the first step."""
        index = context_index((bits > 0).float()).reshape(-1)
        ones = torch.bincount(index, weights=(bits > 0).float().reshape(-1), minlength=self.logits.numel())
        total = torch.bincount(index, minlength=self.logits.numel()).float()
        prob = (ones + 0.5) / (total + 1.0)
        self.logits.copy_(torch.logit(prob).reshape(self.logits.shape))


def level_weights(counts: torch.Tensor, weight: float, exponent: float, first: int) -> torch.Tensor:
    """Rate weight of each sample from the planes it sends: ``weight * (first / planes) ** exponent``.

    A uniform weight makes the top levels give up their bits first (where the curve is flattest); an
    exponent of 1 spends the same slope on every level, so each level keeps its share of the curve.
    """
    return weight * (first / counts.float()) ** exponent


def rate_bpp(cells: torch.Tensor, counts: torch.Tensor, pixels: int) -> torch.Tensor:
    """Bits per pixel of each sample, counting only the planes it sends: (B, C, h, w) -> (B,)."""
    sent = torch.arange(cells.shape[1], device=cells.device)[None, :] < counts[:, None]
    return (cells.sum(dim=(2, 3)) * sent).sum(dim=1) / pixels


def save(rate: ContextRate, optimizer: torch.optim.Optimizer, path: Path) -> None:
    """The logits and their Adam moments, so a resumed run continues exactly."""
    tensors = {"logits": rate.logits.detach().cpu().contiguous()}
    for key, value in optimizer.state.get(rate.logits, {}).items():
        tensors[f"adam.{key}"] = value.detach().cpu().reshape(-1) if value.dim() == 0 else value.detach().cpu()
    write_with(path, lambda tmp: save_file(tensors, str(tmp)), force=True)


def load(rate: ContextRate, optimizer: torch.optim.Optimizer, path: Path) -> None:
    from safetensors import SafetensorError

    try:
        tensors = load_file(str(path))
        with torch.no_grad():
            rate.logits.copy_(tensors["logits"])
    except (OSError, SafetensorError, KeyError, RuntimeError) as exc:
        raise ModelError(f"cannot resume the context table from {path}: {exc}") from exc
    slots = {key.split(".", 1)[1]: value for key, value in tensors.items() if key.startswith("adam.")}
    if slots:
        slots["step"] = slots["step"].reshape(())
        optimizer.state[rate.logits] = slots
