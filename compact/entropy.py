"""Lossless entropy coding of the binary code with a fixed context model and constriction's range coder.

The bits of a binary auto-encoder are neither equiprobable nor independent. The context model predicts
each bit from bits already decoded, in a schedule that numpy can vectorize: channel by channel, and
within a channel a checkerboard — first the "anchor" cells ((row + col) even), then the others.
A bit's context is

* the bits of its *parents* at the same cell: up to K earlier channels, listed per (channel, pass);
* anchor cells of channel c: how many of the 4 neighbours in channel c-1 are 1 (0..4);
* other cells of channel c: how many of its 4 neighbours in channel c (all anchors, so known) are 1.

Layout 1 fixes the parents to the K = 4 channels just below (c-1 … c-4). Layout 2 lists them in the
table file, chosen per (channel, pass) by a greedy search on training codes (:func:`choose_parents`): the
channels of a learnt code are not ordered by how much they say about each other, and the best parents
of channel 40 are often channels 3 or 18, not 36–39.

A stream at a lower quality level sends only the leading channels of the code; it is coded with the
leading rows of the same table (every parent is an earlier channel, so a prefix is self-contained).

Probabilities are fitted on training images once per model and stored as integers (P(bit = 1) in units
of 2**-16, 1..65535), so the coder sees exactly the same numbers on every machine: ``q / 65536`` is exact
in binary floating point and no other float enters the decode path.
"""

from __future__ import annotations

import functools
import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from compact.errors import FormatError, ModelError

PREV_CHANNELS = 4  # K of layout 1 (also the training's rate term, compact.training.rate)
MAX_PARENTS = 8  # K of layout 2: 2**8 * 5 = 1,280 contexts per (channel, pass)
NEIGHBOUR_STATES = 5  # 0..4 neighbours set
PROB_BITS = 16
PROB_ONE = 1 << PROB_BITS
CONTEXT_FILE = "context.json"

#: parents[c][p]: the channels whose bits at the cell are the context of channel c in pass p (0 = anchors)
Parents = tuple[tuple[tuple[int, ...], tuple[int, ...]], ...]


def _anchor_mask(h: int, w: int) -> np.ndarray:
    return (np.add.outer(np.arange(h), np.arange(w)) % 2) == 0


def _neighbours(plane: np.ndarray) -> np.ndarray:
    """How many of the 4 neighbours of each cell are 1 (outside the plane counts as 0)."""
    p = np.pad(plane.astype(np.int32), 1)
    return p[:-2, 1:-1] + p[2:, 1:-1] + p[1:-1, :-2] + p[1:-1, 2:]


def previous_channels(channels: int) -> Parents:
    """Layout 1's parents: channels c-1 … c-4 (fewer near the start)."""
    return tuple((prev, prev) for prev in (tuple(range(c - 1, max(-1, c - 1 - PREV_CHANNELS), -1))
                                            for c in range(channels)))  # fmt: skip


def _neighbour_state(bits: np.ndarray, c: int, anchors: bool) -> np.ndarray:
    if anchors:
        return _neighbours(bits[c - 1]) if c > 0 else np.zeros(bits.shape[1:], dtype=np.int32)
    return _neighbours(bits[c] * _anchor_mask(*bits.shape[1:]))


def _parent_index(bits: np.ndarray, parents: Sequence[int]) -> np.ndarray:
    index = np.zeros(bits.shape[1:], dtype=np.int32)
    for k, parent in enumerate(parents):
        index |= bits[parent].astype(np.int32) << k
    return index


def contexts(bits: np.ndarray, c: int, anchors: bool, parents: Sequence[int] | None = None) -> np.ndarray:
    """Context index of every cell of channel ``c`` for one pass, from the bits decoded before it.

    ``parents`` defaults to layout 1's (c-1 … c-4). Returns a (h, w) array; only the cells of the pass
    (anchor or not) are meaningful.
    """
    if parents is None:
        parents = previous_channels(c + 1)[c][0]
    return _parent_index(bits, parents) * NEIGHBOUR_STATES + _neighbour_state(bits, c, anchors)


def _width(parent_bits: int) -> int:
    return (1 << parent_bits) * NEIGHBOUR_STATES


def _check_parents(parents: object, channels: int, parent_bits: int) -> Parents:
    """Each (channel, pass) lists at most ``parent_bits`` distinct earlier channels."""
    try:
        checked = tuple((tuple(int(q) for q in rows[0]), tuple(int(q) for q in rows[1])) for rows in parents)
        ok = len(checked) == channels and all(len(rows) == 2 for rows in parents)
    except (TypeError, ValueError, IndexError) as exc:
        raise ModelError(f"context model parents are malformed: {exc}") from exc
    for c, rows in enumerate(checked):
        for row in rows:
            ok = ok and len(row) <= parent_bits and len(set(row)) == len(row) and all(0 <= q < c for q in row)
    if not ok:
        raise ModelError("context model parents must list, per channel and pass, distinct earlier channels "
                         f"(at most {parent_bits})")  # fmt: skip
    return checked


def _check_shape(shape: tuple[int, ...], what: str, parent_bits: int = PREV_CHANNELS) -> None:
    """A table is (C >= 1 channels, 2 passes, 2**K * 5 contexts)."""
    if len(shape) != 3 or shape[0] < 1 or shape[1:] != (2, _width(parent_bits)):
        raise ModelError(f"{what} has shape {shape}")


@dataclass(frozen=True)
class ContextModel:
    """P(bit = 1) per (channel, pass, context) as integers in units of 2**-16, and each row's parents."""

    table: np.ndarray  # uint32, shape (C, 2, 2**K * 5); pass 0 = anchors, 1 = the rest
    parents: Parents | None = None  # None: layout 1 (the 4 channels below)

    def __post_init__(self) -> None:
        parent_bits = PREV_CHANNELS if self.parents is None else MAX_PARENTS
        _check_shape(self.table.shape, "context table", parent_bits)
        if self.parents is not None:
            object.__setattr__(self, "parents", _check_parents(self.parents, self.channels, MAX_PARENTS))

    @property
    def channels(self) -> int:
        return int(self.table.shape[0])

    @property
    def layout(self) -> int:
        return 1 if self.parents is None else 2

    @functools.cached_property
    def parents_of(self) -> Parents:
        """Every row's parents, whatever the layout."""
        return previous_channels(self.channels) if self.parents is None else self.parents

    @functools.cached_property
    def context_id(self) -> str:
        """8 hex digits of SHA-256 over the canonical table; streams record it. Computed once (1.7 ms)."""
        return hashlib.sha256(self.to_json().encode()).hexdigest()[:8]

    @property
    def context_id_bytes(self) -> bytes:
        return bytes.fromhex(self.context_id)

    def contexts(self, bits: np.ndarray, c: int, anchors: bool) -> np.ndarray:
        return contexts(bits, c, anchors, self.parents_of[c][0 if anchors else 1])

    def to_json(self) -> str:
        """The canonical form the context id hashes (layout 1's is unchanged since it was introduced)."""
        if self.parents is None:
            data = {"version": 1, "prev_channels": PREV_CHANNELS, "prob_bits": PROB_BITS,
                    "shape": list(self.table.shape), "table": self.table.reshape(-1).tolist()}  # fmt: skip
        else:
            data = {"version": 2, "parent_bits": MAX_PARENTS, "prob_bits": PROB_BITS,
                    "parents": [[list(row) for row in rows] for rows in self.parents],
                    "shape": list(self.table.shape), "table": self.table.reshape(-1).tolist()}  # fmt: skip
        return json.dumps(data, separators=(",", ":"))

    @classmethod
    def from_json(cls, text: str) -> ContextModel:
        try:
            data = json.loads(text)
            layout = (data["version"], data.get("prev_channels"), data.get("parent_bits"), data["prob_bits"])
            if layout not in ((1, PREV_CHANNELS, None, PROB_BITS), (2, None, MAX_PARENTS, PROB_BITS)):
                raise ModelError("unsupported context model version or layout")
            table = np.asarray(data["table"], dtype=np.int64).reshape(data["shape"])
            parents = data["parents"] if data["version"] == 2 else None
        except (ValueError, KeyError, TypeError, OverflowError, AttributeError) as exc:
            raise ModelError(f"invalid context model: {exc}") from exc
        if table.size and (table.min() < 1 or table.max() >= PROB_ONE):
            raise ModelError("context table has probabilities outside 1..65535")
        return cls(table.astype(np.uint32), parents)

    @classmethod
    def fit(cls, codes: list[np.ndarray], parents: Parents | None = None) -> ContextModel:
        """Count contexts over (C, h, w) codes; Krichevsky–Trofimov estimate, quantized to 16 bits.

        ``parents`` None fits layout 1; :func:`choose_parents` finds layout 2's.
        """
        channels = codes[0].shape[0]
        rows = previous_channels(channels) if parents is None else parents
        n_ctx = _width(PREV_CHANNELS if parents is None else MAX_PARENTS)
        ones = np.zeros((channels, 2, n_ctx), dtype=np.int64)
        total = np.zeros_like(ones)
        for bits in codes:
            anchor = _anchor_mask(*bits.shape[1:])
            for c in range(channels):
                for p, mask in enumerate((anchor, ~anchor)):
                    ctx = contexts(bits, c, p == 0, rows[c][p])[mask]
                    total[c, p] += np.bincount(ctx, minlength=n_ctx)
                    ones[c, p] += np.bincount(ctx, weights=bits[c][mask], minlength=n_ctx).astype(np.int64)
        return cls.from_probabilities((ones + 0.5) / (total + 1.0), parents)

    @classmethod
    def from_probabilities(cls, prob: np.ndarray, parents: Parents | None = None) -> ContextModel:
        """P(bit = 1) as floats -> the coder's integers (units of 2**-16, kept inside 1..65535)."""
        return cls(np.clip(np.rint(prob * PROB_ONE), 1, PROB_ONE - 1).astype(np.uint32), parents)

    @classmethod
    def from_logits(cls, logits: np.ndarray, parents: Parents | None = None) -> ContextModel:
        """Round a table of logits learnt in training (``compact.training.rate``) into integers."""
        logits = np.asarray(logits, dtype=np.float64)
        _check_shape(logits.shape, "learnt context table", PREV_CHANNELS if parents is None else MAX_PARENTS)
        return cls.from_probabilities(0.5 * (1.0 + np.tanh(0.5 * logits)), parents)  # the logistic, no overflow

    def _probabilities(self, ctx: np.ndarray, c: int, p: int) -> np.ndarray:
        return self.table[c, p][ctx].astype(np.float64) / PROB_ONE


def _code_length(index: np.ndarray, bits: np.ndarray, n: int) -> float:
    """Bits the Krichevsky–Trofimov estimate of these contexts spends on ``bits`` (what a fit would save)."""
    total = np.bincount(index, minlength=n)
    ones = np.bincount(index, weights=bits, minlength=n)
    prob = (ones + 0.5) / (total + 1.0)
    return float(-(ones * np.log2(prob) + (total - ones) * np.log2(1.0 - prob)).sum())


def choose_parents(codes: list[np.ndarray], parent_bits: int = MAX_PARENTS) -> Parents:
    """Layout 2's parents: for every (channel, pass), add earlier channels one at a time, each time the one
    whose bit most shortens the fitted code of ``codes`` (greedy; about a minute for 64 channels on a few
    hundred thousand cells)."""
    channels = codes[0].shape[0]
    passes = []  # per pass: the bits (C, N) and the neighbour states (C, N) of every cell of that pass
    for p in (0, 1):
        b, nb = [], []
        for bits in codes:
            mask = _anchor_mask(*bits.shape[1:]) == (p == 0)
            b.append(bits[:, mask].astype(np.int64))
            nb.append(np.stack([_neighbour_state(bits, c, p == 0)[mask] for c in range(channels)]))
        passes.append((np.concatenate(b, axis=1), np.concatenate(nb, axis=1)))
    found = []
    for c in range(channels):
        rows = []
        for b, nb in passes:
            chosen: list[int] = []
            index = np.zeros(b.shape[1], dtype=np.int64)
            for k in range(min(parent_bits, c)):
                best = min((q for q in range(c) if q not in chosen),
                           key=lambda q: _code_length((index | (b[q] << k)) * NEIGHBOUR_STATES + nb[c], b[c],
                                                      _width(k + 1)))  # fmt: skip
                chosen.append(best)
                index |= b[best] << k
            rows.append(tuple(chosen))
        found.append((rows[0], rows[1]))
    return tuple(found)


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
            ctx = model.contexts(bits, c, anchors=(p == 0))[mask]
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
            ctx = model.contexts(bits, c, anchors=(p == 0))[mask]
            try:
                decoded = decoder.decode(family, model._probabilities(ctx, c, p))
            except (ValueError, RuntimeError, AssertionError) as exc:  # constriction signals bad data by assert
                raise FormatError(f"entropy-coded payload is corrupt: {exc}") from exc
            bits[c][mask] = decoded.astype(np.uint8)
    return bits
