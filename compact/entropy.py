"""Lossless entropy coding of the binary code with a fixed context model and constriction's range coder.

The bits of a binary auto-encoder are neither equiprobable nor independent. The context model predicts
each bit from bits already decoded, in a schedule that numpy can vectorize: channel by channel, and
within a channel a checkerboard — first the "anchor" cells ((row + col) even), then the others.

* anchor cell of channel c: context = the K previous channels' bits at the same cell, and how many of
  the 4 neighbours in channel c-1 are 1 (0..4);
* other cell of channel c: the same K previous-channel bits, and how many of its 4 neighbours in channel
  c (all anchors, so already known) are 1.

A stream at a lower quality level sends only the leading channels of the code; it is coded with the
leading rows of the same table (every context looks only at earlier channels, so a prefix is self-contained).

Probabilities are fitted on training images once per model and stored as integers (P(bit = 1) in units
of 2**-16, 1..65535), so the coder sees exactly the same numbers on every machine: ``q / 65536`` is exact
in binary floating point and no other float enters the decode path.
"""

from __future__ import annotations

import functools
import hashlib
import json
from dataclasses import dataclass

import numpy as np

from compact.errors import FormatError, ModelError

PREV_CHANNELS = 4  # K
NEIGHBOUR_STATES = 5  # 0..4 neighbours set
PROB_BITS = 16
PROB_ONE = 1 << PROB_BITS
CONTEXT_FILE = "context.json"


def _anchor_mask(h: int, w: int) -> np.ndarray:
    return (np.add.outer(np.arange(h), np.arange(w)) % 2) == 0


def _neighbours(plane: np.ndarray) -> np.ndarray:
    """How many of the 4 neighbours of each cell are 1 (outside the plane counts as 0)."""
    p = np.pad(plane.astype(np.int32), 1)
    return p[:-2, 1:-1] + p[2:, 1:-1] + p[1:-1, :-2] + p[1:-1, 2:]


def _prev_index(bits: np.ndarray, c: int) -> np.ndarray:
    index = np.zeros(bits.shape[1:], dtype=np.int32)
    for k in range(1, PREV_CHANNELS + 1):
        if c - k >= 0:
            index |= bits[c - k].astype(np.int32) << (k - 1)
    return index


def contexts(bits: np.ndarray, c: int, anchors: bool) -> np.ndarray:
    """Context index of every cell of channel ``c`` for one pass, from the bits decoded before it.

    Returns a (h, w) array; only the cells of the pass (anchor or not) are meaningful.
    """
    if anchors:
        nb = _neighbours(bits[c - 1]) if c > 0 else np.zeros(bits.shape[1:], dtype=np.int32)
    else:
        nb = _neighbours(bits[c] * _anchor_mask(*bits.shape[1:]))
    return _prev_index(bits, c) * NEIGHBOUR_STATES + nb


def _check_shape(shape: tuple[int, ...], what: str) -> None:
    """A table is (C >= 1 channels, 2 passes, 2**K * 5 contexts)."""
    if len(shape) != 3 or shape[0] < 1 or shape[1:] != (2, (1 << PREV_CHANNELS) * NEIGHBOUR_STATES):
        raise ModelError(f"{what} has shape {shape}")


@dataclass(frozen=True)
class ContextModel:
    """P(bit = 1) per (channel, pass, context) as integers in units of 2**-16."""

    table: np.ndarray  # uint32, shape (C, 2, 2**K * 5); pass 0 = anchors, 1 = the rest

    @property
    def channels(self) -> int:
        return int(self.table.shape[0])

    @functools.cached_property
    def context_id(self) -> str:
        """8 hex digits of SHA-256 over the canonical table; streams record it. Computed once (1.7 ms)."""
        return hashlib.sha256(self.to_json().encode()).hexdigest()[:8]

    @property
    def context_id_bytes(self) -> bytes:
        return bytes.fromhex(self.context_id)

    def to_json(self) -> str:
        return json.dumps(
            {"version": 1, "prev_channels": PREV_CHANNELS, "prob_bits": PROB_BITS,
             "shape": list(self.table.shape), "table": self.table.reshape(-1).tolist()},
            separators=(",", ":"),
        )  # fmt: skip

    @classmethod
    def from_json(cls, text: str) -> ContextModel:
        try:
            data = json.loads(text)
            if (data["version"], data["prev_channels"], data["prob_bits"]) != (1, PREV_CHANNELS, PROB_BITS):
                raise ModelError("unsupported context model version or layout")
            table = np.asarray(data["table"], dtype=np.int64).reshape(data["shape"])
        except (ValueError, KeyError, TypeError, OverflowError) as exc:
            raise ModelError(f"invalid context model: {exc}") from exc
        _check_shape(table.shape, "context table")
        if table.min() < 1 or table.max() >= PROB_ONE:
            raise ModelError("context table has probabilities outside 1..65535")
        return cls(table.astype(np.uint32))

    @classmethod
    def fit(cls, codes: list[np.ndarray]) -> ContextModel:
        """Count contexts over (C, h, w) codes; Krichevsky–Trofimov estimate, quantized to 16 bits."""
        channels = codes[0].shape[0]
        n_ctx = (1 << PREV_CHANNELS) * NEIGHBOUR_STATES
        ones = np.zeros((channels, 2, n_ctx), dtype=np.int64)
        total = np.zeros_like(ones)
        for bits in codes:
            anchor = _anchor_mask(*bits.shape[1:])
            for c in range(channels):
                for p, mask in enumerate((anchor, ~anchor)):
                    ctx = contexts(bits, c, anchors=(p == 0))[mask]
                    total[c, p] += np.bincount(ctx, minlength=n_ctx)
                    ones[c, p] += np.bincount(ctx, weights=bits[c][mask], minlength=n_ctx).astype(np.int64)
        return cls.from_probabilities((ones + 0.5) / (total + 1.0))

    @classmethod
    def from_probabilities(cls, prob: np.ndarray) -> ContextModel:
        """P(bit = 1) as floats -> the coder's integers (units of 2**-16, kept inside 1..65535)."""
        return cls(np.clip(np.rint(prob * PROB_ONE), 1, PROB_ONE - 1).astype(np.uint32))

    @classmethod
    def from_logits(cls, logits: np.ndarray) -> ContextModel:
        """Round a table of logits learnt in training (``compact.training.rate``) into the coder's integers."""
        logits = np.asarray(logits, dtype=np.float64)
        _check_shape(logits.shape, "learnt context table")
        return cls.from_probabilities(0.5 * (1.0 + np.tanh(0.5 * logits)))  # the logistic function, no overflow

    def _probabilities(self, ctx: np.ndarray, c: int, p: int) -> np.ndarray:
        return self.table[c, p][ctx].astype(np.float64) / PROB_ONE


def _coder_model():
    import constriction

    return constriction.stream.model.Bernoulli(perfect=False)


def encode(bits: np.ndarray, model: ContextModel) -> bytes:
    """(C, h, w) {0,1} bits -> range-coded payload (big-endian 32-bit words)."""
    import constriction

    if not 1 <= bits.shape[0] <= model.channels:
        raise ModelError(f"code has {bits.shape[0]} channels, the context model {model.channels}")
    encoder = constriction.stream.queue.RangeEncoder()
    family = _coder_model()
    anchor = _anchor_mask(*bits.shape[1:])
    for c in range(bits.shape[0]):
        for p, mask in enumerate((anchor, ~anchor)):
            if not mask.any():
                continue
            ctx = contexts(bits, c, anchors=(p == 0))[mask]
            encoder.encode(bits[c][mask].astype(np.int32), family, model._probabilities(ctx, c, p))
    return encoder.get_compressed().astype(">u4").tobytes()


def decode(payload: bytes, shape: tuple[int, int, int], model: ContextModel) -> np.ndarray:
    """Inverse of :func:`encode`; the schedule re-derives every context from bits already decoded."""
    import constriction

    if len(payload) % 4:
        raise FormatError("entropy-coded payload is not a whole number of 32-bit words")
    if not 1 <= shape[0] <= model.channels:
        raise ModelError(f"stream has {shape[0]} channels, the context model {model.channels}")
    words = np.frombuffer(payload, dtype=">u4").astype(np.uint32)
    decoder = constriction.stream.queue.RangeDecoder(words)
    family = _coder_model()
    bits = np.zeros(shape, dtype=np.uint8)
    anchor = _anchor_mask(*shape[1:])
    for c in range(shape[0]):
        for p, mask in enumerate((anchor, ~anchor)):
            if not mask.any():
                continue
            ctx = contexts(bits, c, anchors=(p == 0))[mask]
            try:
                decoded = decoder.decode(family, model._probabilities(ctx, c, p))
            except (ValueError, RuntimeError, AssertionError) as exc:  # constriction signals bad data by assert
                raise FormatError(f"entropy-coded payload is corrupt: {exc}") from exc
            bits[c][mask] = decoded.astype(np.uint8)
    return bits
