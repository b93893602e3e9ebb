"""Encoder-side refinement: search for the code this decoder turns into this picture best.

The encoder maps an image to its code in one pass, trained for the average crop; the sign of its latent is a
good start, not the best code for a given image. Refinement starts from that latent and runs Adam on it
through the decoder, minimising the squared error, plus a weight times 1 - MS-SSIM, plus a rate weight
times the code length the model's context table gives the bits, and keeps the best code it sees (the sign
code included, so it is never worse under that objective). Only the encoder side changes: the stream
format, the decoder and the table are the same, so every runtime and the browser read refined streams.

The decoder sees annealed stochastic relaxations of the bits, as in stochastic Gumbel annealing (Yang,
Bamler and Mandt, "Improving Inference for Neural Image Compression", NeurIPS 2020), here for a binary code:
with ``u`` the encoder's pre-tanh output, each step draws ``tanh((2u / t + L) / 2)`` with logistic noise
``L``, i.e. a relaxed sample of a bit that is +1 with probability sigmoid(2u / t). At t = 1 that is the
training's stochastic binarization (P(+1) = (1 + tanh u) / 2); as the temperature t falls the samples harden
towards sign(u). On held-out crops this gained 0.37-0.44 dB over a straight-through sign at every level
for the same steps (docs/TRAINING.md). The noise has a fixed seed, so a compress is reproducible.

It needs the decoder's gradient, so torch and pytorch-msssim (the ``train`` extra); a compress costs ``steps``
decoder forward and backward passes over the picture (tile by tile for large ones). The search steps run under
bf16 autocast where the CPU computes bf16 natively (``precision``, as ``compact train`` chooses it; 1.5-1.8x
faster per step, the same codes to within a few bits, measured in docs/TRAINING.md), channels-last either way;
the checks that pick the code returned are fp32 and hard, so "never worse" holds for the fp32 objective of the
code written.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from pytorch_msssim import ms_ssim

from compact.config import STRIDE
from compact.entropy import ContextModel
from compact.errors import ConfigError
from compact.evaluation.msssim import MIN_SIDE as MSSSIM_MIN_SIDE
from compact.geometry import to_tensor
from compact.tiling import TileGrid
from compact.training import precision
from compact.training.checkpoint import load_model
from compact.training.rate import ContextRate

#: the planes at which ``RefineConfig.rate_weight`` applies as given (quality 2, the default)
REFERENCE_PLANES = 16
#: Adam's step for a search of 50 steps (chosen on held-out crops: docs/TRAINING.md)
LR_AT_50 = 0.1


@dataclass(frozen=True)
class RefineConfig:
    """How hard to search. The defaults were chosen on held-out training photos (docs/TRAINING.md)."""

    steps: int = 50
    #: Adam's step on the pre-tanh latent; None: ``LR_AT_50 * (50 / steps) ** 0.75`` (``step_size``)
    lr: float | None = None
    #: lambda of lambda * bits per pixel at 16 planes (``weight_at`` scales it for the other levels), against
    #: MSE on pixels in [0, 1]: with the MS-SSIM term below, 0.1 keeps the refined files near the size of the
    #: MSE-only search's (lambda 0.03) on held-out crops
    rate_weight: float = 0.1
    #: beta of beta * (1 - MS-SSIM): on held-out crops 0.03 added 0.011-0.018 MS-SSIM at every level for
    #: 0.05-0.09 dB of PSNR and at most 2% more bytes (docs/TRAINING.md); 0 searches for MSE and rate alone.
    #: Pictures (or tiles' scored pixels) under 161 px a side, too small for MS-SSIM's 5 scales, go without
    msssim_weight: float = 0.03
    #: the code is read off the latent and scored every this many steps (and after the last)
    check_every: int = 10
    #: arithmetic of the search steps: fp32, bf16 or auto (bf16 where the CPU computes it natively)
    precision: str = "auto"
    #: the relaxation's temperature at the first and the last step, falling geometrically in between
    temperature: tuple[float, float] = (0.5, 0.05)
    #: seed of the relaxation's noise (fixed, so that the same picture gives the same stream)
    seed: int = 0

    def __post_init__(self) -> None:
        weights = min(self.rate_weight, self.msssim_weight)
        if self.steps < 1 or self.check_every < 1 or self.step_size <= 0 or weights < 0:
            raise ConfigError(f"refinement needs steps >= 1, check_every >= 1, lr > 0 and weights >= 0: {self}")
        if len(self.temperature) != 2 or min(self.temperature) <= 0:
            raise ConfigError(f"refinement temperature must be two positive numbers: {self.temperature}")
        if self.precision not in precision.CHOICES:
            raise ConfigError(f"refinement precision must be one of {', '.join(precision.CHOICES)}: {self.precision}")

    @property
    def step_size(self) -> float:
        """Adam's step: ``lr`` when given, else larger for shorter searches, so that a few steps still travel
        as far. On held-out crops (docs/TRAINING.md) 20 steps gained 0.05 dB at lr 0.2 over 0.1, 10 steps
        0.05 dB at 0.3, and 100 steps did best near 0.05: about (50 / steps) ** 0.75 times 50 steps' 0.1."""
        if self.lr is not None:
            return self.lr
        return LR_AT_50 * (50 / self.steps) ** 0.75

    def weight_at(self, planes: int) -> float:
        """lambda for a level of ``planes`` planes: inversely proportional to them, as training weighed each
        level's bits, so that every level keeps its own slope and the levels stay apart (measured against one
        lambda for all on held-out photos: -2.7% BD-rate on PSNR, -4.2% on MS-SSIM; docs/TRAINING.md)."""
        return self.rate_weight * REFERENCE_PLANES / planes

    def temperature_at(self, step: int) -> float:
        """The relaxation's temperature at ``step`` (0-based): geometric from the first to the last."""
        first, last = self.temperature
        return first * (last / first) ** (step / max(1, self.steps - 1))


def _hard(z: torch.Tensor) -> torch.Tensor:
    """±1 as the codec binarizes (>= 0 is +1)."""
    return torch.where(z >= 0, 1.0, -1.0)


def _logistic(shape: torch.Size, generator: torch.Generator) -> torch.Tensor:
    uniform = torch.rand(shape, generator=generator).clamp_(1e-6, 1 - 1e-6)
    return torch.log(uniform) - torch.log1p(-uniform)


class Refiner:
    """One model's decoder (fp32, CPU) and context table, for refining many images."""

    def __init__(self, weights: Path, table: ContextModel | None, config: RefineConfig, threads: int | None = None):
        self.config = config
        #: torch threads during a search (None: torch's setting), so that parallel workers do not oversubscribe
        self.threads = threads
        model = load_model(weights).eval()
        self.decoder, self.channels = model.decoder, model.config.latent_channels
        self.decoder.requires_grad_(False).to(memory_format=torch.channels_last)
        #: whether the search steps run under bf16 autocast (the checks never do)
        self.bf16 = precision.choose(config.precision, torch.device("cpu")).name == "bf16"
        self.rate = ContextRate.from_table(table) if table is not None else None
        if self.rate is not None:
            self.rate.requires_grad_(False)

    def _objective(self, symbols: torch.Tensor, target: torch.Tensor, box: tuple[int, int, int, int], planes: int,
                   bf16: bool = False) -> torch.Tensor:  # fmt: skip
        """Squared error over ``target``, the pixels ``box`` (y0, y1, x0, x1) of the decoded ``symbols``, the
        weighted 1 - MS-SSIM over them, and the weighted code length per pixel; ``symbols`` may be relaxed (in
        [-1, 1]): their bits are then counted as stochastic bits, in the contexts of their signs."""
        y0, y1, x0, x1 = box
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
            decoded = self.decoder(symbols.contiguous(memory_format=torch.channels_last))
        drawn = decoded.float()[..., y0:y1, x0:x1]
        error = ((drawn - target) ** 2).mean()
        if self.config.msssim_weight and min(target.shape[2:]) >= MSSSIM_MIN_SIDE:
            structure = ms_ssim(drawn.clamp(0.0, 1.0), target, data_range=1.0, size_average=True)
            error = error + self.config.msssim_weight * (1.0 - structure)
        weight = self.config.weight_at(planes)
        if self.rate is None or weight == 0:
            return error
        cells = self.rate.bits_per_cell(symbols, _hard(symbols))[:, :planes]
        return error + weight * cells.sum() / target[0, 0].numel()

    def score(self, code: np.ndarray, image: np.ndarray, height: int, width: int) -> float:
        """The objective the search minimises for a (planes, h, w) {0, 1} ``code`` of the picture."""
        planes = code.shape[0]
        symbols = torch.zeros(1, self.channels, *code.shape[1:])
        symbols[0, :planes] = torch.from_numpy(code.astype(np.float32) * 2 - 1)
        with torch.no_grad():
            target = torch.from_numpy(image)[..., :height, :width]
            return float(self._objective(symbols, target, (0, height, 0, width), planes))

    def refine(self, image: np.ndarray, latent: np.ndarray, planes: int, height: int, width: int) -> np.ndarray:
        """(1, 3, H', W') padded model input and its (1, C, h, w) latent -> the refined (planes, h, w) {0, 1}
        code for the ``height`` x ``width`` picture in its top-left corner, searched in one piece."""
        target = torch.from_numpy(image)[..., :height, :width]
        with self._thread_share():
            return self._search(target, torch.from_numpy(latent), (0, height, 0, width), planes)[:planes]

    def refine_tiled(self, rgb: np.ndarray, latent: np.ndarray, planes: int, grid: TileGrid) -> np.ndarray:
        """HxWx3 uint8 and its (1, C, h, w) latent -> the refined (planes, h, w) {0, 1} code, searched one
        ``grid`` core at a time, for pictures too large to run the decoder backwards over whole.

        Each search changes only its core's cells. It decodes the core with ``2 * grid.halo`` cells around it
        (the cells already searched as they will be coded, the rest as the encoder's signs) and scores the
        pixels within ``grid.halo`` cells of the core: all the pixels its cells reach (the halo covers the
        decoder's reach), each decoded exactly as in one pass (its own reach stays inside the window). So
        each search is never worse for the whole picture's squared error and rate either, and the cores may
        follow one another; the MS-SSIM term, no sum over tiles, is that of each search's scored pixels.
        """
        height, width = rgb.shape[:2]
        reach = grid.halo
        window = TileGrid(core=grid.core, halo=2 * reach)
        current = torch.from_numpy(latent).clone()
        rows, cols = current.shape[2:]
        with self._thread_share():
            for r0, r1, i0, i1 in window.spans(rows):
                y0, y1 = max(i0, r0 - reach) * STRIDE, min(min(i1, r1 + reach) * STRIDE, height)
                for c0, c1, j0, j1 in window.spans(cols):
                    x0, x1 = max(j0, c0 - reach) * STRIDE, min(min(j1, c1 + reach) * STRIDE, width)
                    free = torch.zeros(1, 1, i1 - i0, j1 - j0, dtype=torch.bool)
                    free[..., r0 - i0 : r1 - i0, c0 - j0 : c1 - j0] = True
                    box = (y0 - i0 * STRIDE, y1 - i0 * STRIDE, x0 - j0 * STRIDE, x1 - j0 * STRIDE)
                    target = torch.from_numpy(to_tensor(rgb[y0:y1, x0:x1]))
                    found = self._search(target, current[..., i0:i1, j0:j1], box, planes, free)
                    core = torch.from_numpy(found[:, r0 - i0 : r1 - i0, c0 - j0 : c1 - j0])
                    current[0, :, r0:r1, c0:c1] = core * 2.0 - 1.0
        return (current[0, :planes] >= 0).numpy().astype(np.uint8)

    @contextmanager
    def _thread_share(self) -> Iterator[None]:
        """Run with this refiner's torch threads, then restore the caller's setting, whatever the search did."""
        previous = torch.get_num_threads()
        torch.set_num_threads(self.threads or previous)
        try:
            yield
        finally:
            torch.set_num_threads(previous)

    def _search(self, target: torch.Tensor, latent: torch.Tensor, box: tuple[int, int, int, int], planes: int,
                free: torch.Tensor | None = None) -> np.ndarray:  # fmt: skip
        """The search over the (1, C, h, w) ``latent``'s cells where ``free`` (all when None; the others stay
        their signs) -> the best (C, h, w) {0, 1} code seen (planes past ``planes`` are zeros)."""
        cfg = self.config
        keep = (torch.arange(latent.shape[1]) < planes).float()[None, :, None, None]
        fixed = _hard(latent) * keep
        # the encoder's pre-tanh output (its latent is tanh of it), bounded so that saturated cells can flip
        u = torch.atanh(latent.clamp(-0.999, 0.999)).requires_grad_(True)
        optimizer = torch.optim.Adam([u], lr=cfg.step_size)
        noise = torch.Generator().manual_seed(cfg.seed)

        def pinned(symbols: torch.Tensor) -> torch.Tensor:
            return symbols if free is None else torch.where(free, symbols, fixed)

        def scored() -> tuple[float, torch.Tensor]:
            with torch.no_grad():
                symbols = pinned(_hard(u) * keep)
                return float(self._objective(symbols, target, box, planes)), symbols

        best = scored()
        for step in range(cfg.steps):
            relaxed = torch.tanh(u / cfg.temperature_at(step) + _logistic(u.shape, noise) / 2) * keep
            loss = self._objective(pinned(relaxed), target, box, planes, self.bf16)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            if (step + 1) % cfg.check_every == 0 or step + 1 == cfg.steps:
                best = min(best, scored(), key=lambda pair: pair[0])
        return (best[1][0] > 0).numpy().astype(np.uint8)
