"""The entropy coder's context model as a learnable table, and the rate term it gives the training loss.

``compact.entropy`` codes each bit with P(bit = 1) looked up by (channel, pass, context). Here the same
table is a tensor of logits trained jointly with the networks: the loss adds the expected code length of
the bits the encoder emits under that table, so the encoder learns to emit bits the coder predicts well
and the table learns the encoder's statistics. After training the logits are rounded into the coder's
integer table (``ContextModel.from_logits``): the decode path stays integer-only and deterministic.

The contexts are computed from the sampled bits exactly as ``compact.entropy.contexts`` computes them
(tested cell by cell), in either layout: layout 1's four channels below, or the parents a layout 2 table
lists (``--context-table``: the run learns on from that table). The expected length of a stochastic bit
with P(+1) = q = (1 + y) / 2 is q * -log2 p + (1 - q) * -log2 (1 - p), which carries a gradient into the
latent y and into p.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from safetensors.torch import load_file, save_file
from torch import nn

from compact.entropy import (
    MAX_PARENTS,
    NEIGHBOUR_STATES,
    PREV_CHANNELS,
    PROB_ONE,
    ContextModel,
    Parents,
    previous_channels,
)
from compact.errors import ModelError
from compact.files import write_with

RATE_FILE = "rate.safetensors"
CONTEXTS = (1 << PREV_CHANNELS) * NEIGHBOUR_STATES  # per (channel, pass) in layout 1
CONTEXTS_2 = (1 << MAX_PARENTS) * NEIGHBOUR_STATES  # in layout 2
_CROSS = torch.tensor([[0.0, 1.0, 0.0], [1.0, 0.0, 1.0], [0.0, 1.0, 0.0]])


def anchor_mask(h: int, w: int, device: torch.device | None = None) -> torch.Tensor:
    """True where (row + col) is even: the cells coded in the first pass of every channel."""
    return (torch.arange(h, device=device)[:, None] + torch.arange(w, device=device)[None, :]) % 2 == 0


def _neighbours(planes: torch.Tensor) -> torch.Tensor:
    """How many of the 4 neighbours of each cell are 1, outside counting as 0; (B, C, h, w) -> same."""
    b, c, h, w = planes.shape
    kernel = _CROSS.to(planes.device, planes.dtype)[None, None]
    return F.conv2d(planes.reshape(b * c, 1, h, w), kernel, padding=1).reshape(b, c, h, w)


def parent_table(parents: Parents, width: int) -> torch.Tensor:
    """(C, 2, width) channel indices of every row's parents, C (a plane of zeros) where a row has fewer."""
    channels = len(parents)
    table = torch.full((channels, 2, width), channels, dtype=torch.long)
    for c, rows in enumerate(parents):
        for p, row in enumerate(rows):
            table[c, p, : len(row)] = torch.tensor(row, dtype=torch.long)
    return table


def context_index(bits: torch.Tensor, parents: torch.Tensor | None = None) -> torch.Tensor:
    """Index into the flattened (C, 2, contexts) table for every cell of (B, C, h, w) {0, 1} bits.

    Anchor cells of channel c: its parents' bits at the cell (``parents``, from :func:`parent_table`;
    layout 1's c-1 … c-4 when None) and the set neighbours in channel c - 1; other cells: their parents'
    bits and the set (anchor) neighbours in channel c.
    """
    bits = bits.float()
    b, c, h, w = bits.shape
    if parents is None:
        parents = parent_table(previous_channels(c), PREV_CHANNELS)
    parents = parents.to(bits.device)
    width = parents.shape[2]
    padded = F.pad(bits, (0, 0, 0, 0, 0, 1))  # channel C: zeros, for rows with fewer parents
    index = [sum(padded[:, parents[:, p, k]] * (1 << k) for k in range(width)) for p in (0, 1)]
    anchor = anchor_mask(h, w, bits.device)
    below = _neighbours(F.pad(bits, (0, 0, 0, 0, 1, 0))[:, :c])  # neighbours in channel c - 1 (0 for c = 0)
    own = _neighbours(bits * anchor)
    ctx = torch.where(anchor, index[0] * NEIGHBOUR_STATES + below, index[1] * NEIGHBOUR_STATES + own)
    passes = (~anchor).long()  # 0 = anchors, 1 = the rest
    channel = torch.arange(c, device=bits.device)[None, :, None, None]
    return (channel * 2 + passes) * ((1 << width) * NEIGHBOUR_STATES) + ctx.long()


class ContextRate(nn.Module):
    """Learnable logits of P(bit = 1) per (channel, pass, context), the shape of the coder's table."""

    def __init__(self, channels: int, parents: Parents | None = None):
        super().__init__()
        #: None: layout 1 (the four channels below); else layout 2's parents of every (channel, pass)
        self.parents = parents
        width = PREV_CHANNELS if parents is None else MAX_PARENTS
        self.register_buffer("parent_index", parent_table(parents or previous_channels(channels), width))
        contexts = CONTEXTS if parents is None else CONTEXTS_2
        self.logits = nn.Parameter(torch.zeros(channels, 2, contexts))

    @classmethod
    def from_table(cls, table: ContextModel) -> ContextRate:
        """Start from a coder's table (its layout, parents and probabilities)."""
        rate = cls(table.channels, table.parents)
        with torch.no_grad():
            rate.logits.copy_(torch.logit(torch.from_numpy(table.table.astype(np.float64) / PROB_ONE)).float())
        return rate

    def to_table(self) -> ContextModel:
        """The logits rounded into the coder's integer table, in this table's layout."""
        return ContextModel.from_logits(self.logits.detach().cpu().numpy(), self.parents)

    def _logits_at(self, bits: torch.Tensor) -> torch.Tensor:
        """The table's logit for every cell of ±1 ``bits``, in the context those bits give it."""
        return self.logits.reshape(-1)[context_index((bits.detach() > 0).float(), self.parent_index)]

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
        index = context_index((bits > 0).float(), self.parent_index).reshape(-1)
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
    if rate.parents is not None:  # layout 2: the parents, -1 where a row has fewer
        index = rate.parent_index.detach().cpu().clone()
        tensors["parents"] = torch.where(index == rate.logits.shape[0], -1, index).contiguous()
    for key, value in optimizer.state.get(rate.logits, {}).items():
        tensors[f"adam.{key}"] = value.detach().cpu().reshape(-1) if value.dim() == 0 else value.detach().cpu()
    write_with(path, lambda tmp: save_file(tensors, str(tmp)), force=True)


def saved_parents(path: Path) -> Parents | None:
    """The layout 2 parents a saved table was learnt with (None: layout 1)."""
    from safetensors import SafetensorError, safe_open

    try:
        with safe_open(str(path), framework="pt") as f:
            if "parents" not in f.keys():
                return None
            index = f.get_tensor("parents")
    except (OSError, SafetensorError) as exc:
        raise ModelError(f"cannot read the context table in {path}: {exc}") from exc
    return tuple(tuple(tuple(int(q) for q in row if q >= 0) for row in rows) for rows in index.tolist())


def load(rate: ContextRate, optimizer: torch.optim.Optimizer, path: Path) -> None:
    from safetensors import SafetensorError

    if saved_parents(path) != rate.parents:
        raise ModelError(f"the context table in {path} has another layout or other parents than this run's")
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
