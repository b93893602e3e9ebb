"""The training loop behind ``compact train``."""

from __future__ import annotations

import copy
import json
import math
import time
import warnings
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import numpy as np
import torch

from compact.config import ModelConfig
from compact.entropy import ContextModel
from compact.errors import ConfigError, DataError
from compact.evaluation.grid import grid_scores, smooth_picture
from compact.files import find_images, require_folder
from compact.geometry import to_pixels, to_tensor
from compact.training import checkpoint, grid, rate
from compact.training.data import CropSampler, ImageSet, center_crops, is_holdout
from compact.training.loss import training_loss
from compact.training.model import CompactAutoencoder
from compact.training.precision import CHOICES as PRECISIONS
from compact.training.precision import choose as choose_precision


@dataclass
class TrainConfig:
    data: Path
    out: Path
    steps: int = 20_000
    batch_size: int = 8
    crop: int = 128
    lr: float = 3e-4
    model: ModelConfig = field(default_factory=ModelConfig)
    val: Path | None = None
    val_fraction: float = 0.05  # held out of ``data`` when no ``val`` folder is given
    val_crop: int = 256
    val_every: int = 1000
    checkpoint_every: int = 500
    seed: int = 0
    threads: int | None = None
    resume: bool = False
    force: bool = False  # start afresh over an existing run in ``out``
    init: Path | None = None  # warm start: copy every tensor (or its overlapping slice) from these weights
    #: "bf16": convolutions under bf16 autocast (GDN and the loss stay fp32); "fp32": everything fp32;
    #: "auto": bf16 where the device computes it natively, else fp32 (training.precision)
    precision: str = "fp32"
    channels_last: bool = True  # NHWC activations: 1.5x faster convolutions on this CPU (training-facts.md)
    ema: float = 0.999  # decay of the weight average that is validated and shipped; 0 turns it off
    #: largest gradient norm (clipped above it; 0: never). Wide decoders with inverse GDN blow up without it
    #: at lr 1e-3 (loss 1e9 within 40 steps, measured); CompressAI clips at 1.0 too.
    clip: float = 1.0
    #: share of training samples binarized by sign (straight-through) instead of stochastically
    sign_fraction: float = 0.0
    #: share of training crops replaced by a synthetic flat colour or gentle gradient (data.CropSampler)
    flat_fraction: float = 0.0
    #: λ of the rate term (expected code length under the learnt context table, bpp) added to the MSE; 0: off
    rate_weight: float = 0.0
    #: each sample's λ is ``rate_weight * (first level / planes sent) ** rate_exponent`` (rate.level_weights)
    rate_exponent: float = 0.0
    #: Adam learning rate of the context table's logits (constant; the table tracks the encoder)
    rate_lr: float = 1e-3
    #: a coder's context.json to start the rate term's table from (its layout, parents and probabilities);
    #: None: layout 1, fitted to the model's bits when the rate term starts
    context_table: Path | None = None
    #: weight of the grid penalty (grid.periodic_error: the error's part that repeats every 4 or 8 px in
    #: smooth windows) added to the loss; 0: off
    grid_weight: float = 0.0
    #: train the decoder alone: the code, and so the rate and the context table's fit, stay exactly what the
    #: encoder makes. A last phase that fits the decoder to the code it will see (with ``sign_fraction`` 1)
    #: and can remove the grid (``grid_weight``) without spending a bit.
    freeze_encoder: bool = False
    #: end this session's share of the run after this step; the schedule still follows ``steps``
    until: int | None = None
    #: steps at which the learning rate drops x0.3 each (empty: at 70% and 90% of ``steps``). A run that
    #: levels off early decays where it levels off; a later session passes the same milestones on resume.
    decay_at: tuple[int, ...] = ()

    def __post_init__(self) -> None:
        if self.precision not in PRECISIONS:
            raise ConfigError(f"precision must be one of {', '.join(PRECISIONS)}, got {self.precision!r}")
        if not 0.0 <= self.ema < 1.0:
            raise ConfigError(f"ema must be in [0, 1), got {self.ema}")
        if not 0.0 <= self.flat_fraction <= 1.0:
            raise ConfigError(f"flat_fraction must be in [0, 1], got {self.flat_fraction}")
        if self.grid_weight < 0:
            raise ConfigError(f"grid_weight must be >= 0, got {self.grid_weight}")
        if self.grid_weight and self.crop % grid.WINDOW:
            raise ConfigError(f"the grid penalty needs crops in multiples of {grid.WINDOW} px, got --crop {self.crop}")
        if self.rate_weight < 0 or self.rate_lr <= 0:
            raise ConfigError(f"rate_weight must be >= 0 and rate_lr > 0, got {self.rate_weight}, {self.rate_lr}")
        if any(m <= 0 for m in self.decay_at) or list(self.decay_at) != sorted(set(self.decay_at)):
            raise ConfigError(f"decay_at must be increasing positive steps, got {list(self.decay_at)}")

    def lr_at(self, step: int) -> float:
        """Step decay: x0.3 at each of ``decay_at``, or at 70% and again at 90% of the run."""
        milestones = self.decay_at or (0.7 * self.steps, 0.9 * self.steps)
        return self.lr * 0.3 ** sum(step >= m for m in milestones)


def pick_device() -> torch.device:
    if torch.cuda.is_available():
        return torch.device("cuda")
    if torch.backends.mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")


def psnr(a: torch.Tensor, b: torch.Tensor) -> float:
    mse = torch.mean((a.clamp(0, 1) - b) ** 2).item()
    return float("inf") if mse == 0 else 10 * math.log10(1.0 / mse)


def _split(cfg: TrainConfig) -> tuple[list[Path], list[Path]]:
    paths = find_images(require_folder(cfg.data))
    if cfg.val is not None:
        return paths, find_images(require_folder(cfg.val, "validation folder"))
    train = [p for p in paths if not is_holdout(p, cfg.data, cfg.val_fraction)]
    val = [p for p in paths if is_holdout(p, cfg.data, cfg.val_fraction)]
    return train, val


@torch.no_grad()
def validate(model: CompactAutoencoder, batch: torch.Tensor) -> dict[int, float]:
    """Mean validation PSNR at every quality level (channels sent -> dB)."""
    was_training = model.training
    model.eval()
    result = {}
    for level in model.config.levels:
        scores = [psnr(model(batch[i : i + 4], level), batch[i : i + 4]) for i in range(0, len(batch), 4)]
        result[level] = float(np.mean(scores))
    model.train(was_training)
    return result


@torch.no_grad()
def validate_grid(model: CompactAutoencoder) -> dict[int, float]:
    """Per level, the largest grid score (compact.evaluation.grid: 1 = no grid added, issue 13 asks <= 3) of
    the smooth synthetic picture decoded from its sign bits, as the codec would."""
    was_training = model.training
    model.eval()
    picture = smooth_picture()
    x = torch.from_numpy(to_tensor(picture)).to(next(model.parameters()).device)
    result = {}
    for level in model.config.levels:
        decoded = to_pixels(model(x, level)[0].float().cpu().numpy())
        result[level] = max(grid_scores(picture, decoded).values())
    model.train(was_training)
    return result


@torch.no_grad()
def validate_rate(model: CompactAutoencoder, table: rate.ContextRate, batch: torch.Tensor) -> dict[int, float]:
    """Bits per pixel the coder would spend on the validation batch's sign bits under the learnt table, at
    every quality level (a prefix of the planes; the container's header not counted)."""
    was_training = model.training
    model.eval()
    cells = torch.cat([table.bits_of(model.passes(batch[i : i + 4]).bits) for i in range(0, len(batch), 4)])
    model.train(was_training)
    per_plane = cells.sum(dim=(2, 3)).mean(dim=0) / (batch.shape[2] * batch.shape[3])
    return {level: float(per_plane[:level].sum()) for level in model.config.levels}


@torch.no_grad()
def warm_start(model: CompactAutoencoder, path: Path) -> None:
    """Copy a smaller or equal model's tensors into ``model``: whole when shapes match, else the
    overlapping leading slice (a 16-plane code into the first 16 of 64, a 64-wide layer into the first 64
    of 192). Every convolution's weights from the new input channels start at zero, and GDN's new
    cross terms are zero at init, so the wider model computes exactly what the source did at step 0 (a
    function-preserving widening): training goes on from the source's quality instead of from scratch."""
    source = checkpoint.load_model(path).state_dict()
    for name, tensor in model.state_dict().items():
        if name not in source or source[name].dim() != tensor.dim():
            continue
        old = source[name]
        if tensor.dim() == 4 and old.shape[1] < tensor.shape[1]:
            tensor[:, old.shape[1] :] = 0
        overlap = tuple(slice(0, min(a, b)) for a, b in zip(old.shape, tensor.shape, strict=True))
        tensor[overlap] = old[overlap]


Reporter = Callable[[int, dict[str, float]], None]


def _data(cfg: TrainConfig, rng: np.random.Generator,
          device: torch.device) -> tuple[CropSampler, torch.Tensor | None]:  # fmt: skip
    train_paths, val_paths = _split(cfg)
    sampler = CropSampler(ImageSet.load(train_paths, cfg.crop), cfg.crop, rng, cfg.flat_fraction)
    if not val_paths:
        return sampler, None
    val_set = ImageSet.load(val_paths, cfg.crop)
    # Validate on the largest centre square every held-out image has, up to val_crop.
    side = min(cfg.val_crop, min(min(a.shape[:2]) for a in val_set.images) // 16 * 16)
    return sampler, torch.from_numpy(center_crops(val_set, side)).to(device)


def _layout(module: torch.nn.Module, cfg: TrainConfig) -> torch.nn.Module:
    return module.to(memory_format=torch.channels_last) if cfg.channels_last else module


class _Average:
    """Exponential moving average of the weights (Polyak averaging): what is validated and shipped.

    At a high learning rate the raw weights wander around a good point; their average sits nearer it.
    The decay ramps up from 0 (``(1 + n) / (10 + n)``) so early averages do not remember the random start.
    """

    def __init__(self, model: CompactAutoencoder, decay: float, updates: int = 0):
        self.model = copy.deepcopy(model).eval()
        self.decay = decay
        self.updates = updates

    @torch.no_grad()
    def update(self, model: CompactAutoencoder) -> None:
        """Move the average toward ``model``'s trained parameters (a frozen encoder's stay as they are)."""
        self.updates += 1
        weight = 1.0 - min(self.decay, (1 + self.updates) / (10 + self.updates))
        pairs = [(a, p) for a, p in zip(self.model.parameters(), model.parameters(), strict=True) if p.requires_grad]
        torch._foreach_lerp_([a for a, _ in pairs], [p for _, p in pairs], weight)


def _check_out(cfg: TrainConfig) -> TrainConfig:
    """An existing run is continued only with ``resume`` and restarted only with ``force``; ``resume`` into a
    folder with no run starts one, so the same command works for the first session and every later one."""
    exists = (cfg.out / "state.json").exists()
    if exists and not (cfg.resume or cfg.force):
        raise DataError(f"{cfg.out} holds a training run: pass --resume to continue it or --force to restart")
    return replace(cfg, resume=cfg.resume and exists and not cfg.force)


class _Run:
    """One training run's state: the model and its average, the optimizer, both random generators, the best
    validation score so far; saved into ``cfg.out`` so that a resumed run continues exactly."""

    def __init__(self, cfg: TrainConfig, device: torch.device, precision: str):
        self.cfg = cfg
        self.precision = precision  # cfg.precision resolved for this device: "fp32" or "bf16"
        self.rng = np.random.default_rng(cfg.seed)  # crops
        self.generator = torch.Generator(device).manual_seed(cfg.seed)  # binarization and levels; not torch's global
        self.start, self.best = 0, -math.inf
        self.seconds_before = 0.0  # training time of the sessions before this one (the run's wall-clock total)
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(cfg.seed)  # the initial weights, in a fork so the caller's RNG state is kept
            model = CompactAutoencoder(cfg.model)
        if cfg.init is not None and not cfg.resume:
            warm_start(model, cfg.init)
        if cfg.resume:
            model = checkpoint.load_model(cfg.out)
            if model.config != cfg.model:
                raise DataError(f"checkpoint in {cfg.out} has {model.config}, not {cfg.model}")
        self.model = _layout(model.to(device), cfg)
        self.model.encoder.requires_grad_(not cfg.freeze_encoder)
        self.optimizer = torch.optim.Adam([p for p in self.model.parameters() if p.requires_grad], lr=cfg.lr)
        self.average = _Average(self.model, cfg.ema) if cfg.ema else None
        self.rate: rate.ContextRate | None = None
        if cfg.rate_weight:
            self.rate = _context_rate(cfg).to(device)
            self.rate_optimizer = torch.optim.Adam(self.rate.parameters(), lr=cfg.rate_lr)
        if cfg.resume:
            self._resume(device)

    def start_table(self, sampler: CropSampler, batches: int = 16) -> None:
        """A run's first step with the rate term (new, or resumed from one without it) starts the table at
        the counts of the model's sign bits on training crops drawn with a generator of their own, so the
        crops of the run itself are not disturbed."""
        if self.rate is None or (self.cfg.out / rate.RATE_FILE).exists() or self.cfg.context_table is not None:
            return
        own = CropSampler(ImageSet([], sampler.images), self.cfg.crop, np.random.default_rng(self.cfg.seed + 1))
        device = self.rate.logits.device
        model = copy.deepcopy(self.shipped).eval()
        with torch.no_grad():
            bits = torch.cat([model.passes(torch.from_numpy(own.batch(self.cfg.batch_size)).to(device)).bits
                              for _ in range(batches)])  # fmt: skip
        self.rate.fit(bits)

    def _resume(self, device: torch.device) -> None:
        saved = json.loads((self.cfg.out / "state.json").read_text())["config"].get("freeze_encoder", False)
        if saved != self.cfg.freeze_encoder:
            raise ConfigError(f"the run in {self.cfg.out} was trained with freeze_encoder={saved}: resume it the same "
                              "way, or start a new run from its weights with --init")  # fmt: skip
        state = checkpoint.load_training_state(self.cfg.out, self.optimizer, self.generator)
        self.start, self.best = state["step"], state["best_val_psnr"]
        self.seconds_before = float(state.get("train_seconds", 0.0))
        self.rng.bit_generator.state = state["numpy_rng"]
        if self.average is not None and (self.cfg.out / checkpoint.AVERAGE).exists():
            averaged = _layout(checkpoint.load_model(self.cfg.out / checkpoint.AVERAGE).to(device), self.cfg)
            self.average = _Average(averaged, self.cfg.ema, state.get("average_updates", 0))
        if self.rate is not None and (self.cfg.out / rate.RATE_FILE).exists():
            rate.load(self.rate, self.rate_optimizer, self.cfg.out / rate.RATE_FILE)

    @property
    def shipped(self) -> CompactAutoencoder:
        """What validation scores and best.safetensors holds: the weight average when there is one."""
        return self.average.model if self.average is not None else self.model

    def save(self, step: int, seconds: float) -> None:
        cfg = self.cfg
        checkpoint.save_weights(self.model, cfg.out / checkpoint.WEIGHTS)
        if self.rate is not None:
            rate.save(self.rate, self.rate_optimizer, cfg.out / rate.RATE_FILE)
        if self.average is not None:
            checkpoint.save_weights(self.average.model, cfg.out / checkpoint.AVERAGE)
        state = {"step": step, "best_val_psnr": self.best, "numpy_rng": self.rng.bit_generator.state,
                 "train_seconds": round(self.seconds_before + seconds, 1),
                 "average_updates": self.average.updates if self.average is not None else 0,
                 "precision_used": self.precision,
                 "config": {**asdict(cfg), "data": str(cfg.data), "out": str(cfg.out),
                            "val": str(cfg.val) if cfg.val else None,
                            "init": str(cfg.init) if cfg.init else None,
                            "context_table": str(cfg.context_table) if cfg.context_table else None}}  # fmt: skip
        checkpoint.save_training_state(cfg.out, self.optimizer, state, self.generator)


def _context_rate(cfg: TrainConfig) -> rate.ContextRate:
    """The rate term's table: the run's own when it resumes with one (the layout it was learnt in), else
    one started from ``context_table``, else a layout 1 table that ``start_table`` fits."""
    saved = cfg.out / rate.RATE_FILE
    given = None
    if cfg.context_table is not None:
        try:
            given = ContextModel.from_json(cfg.context_table.read_text())
        except OSError as exc:
            raise DataError(f"cannot read the context table {cfg.context_table}: {exc}") from exc
        if given.channels != cfg.model.latent_channels:
            raise ConfigError(f"{cfg.context_table} is a table for {given.channels} code planes; the model has "
                              f"{cfg.model.latent_channels}")  # fmt: skip
    if cfg.resume and saved.exists():
        parents = rate.saved_parents(saved)
        if given is not None and given.parents != parents:
            raise ConfigError(f"the run's table in {saved} has another layout or other parents than "
                              f"{cfg.context_table}: resume without --context-table")  # fmt: skip
        return rate.ContextRate(cfg.model.latent_channels, parents)
    if given is not None:
        return rate.ContextRate.from_table(given)
    return rate.ContextRate(cfg.model.latent_channels)


def train(cfg: TrainConfig, report: Reporter | None = None) -> dict[str, float]:
    """Train (or resume) into ``cfg.out``; returns the final metrics."""
    cfg = _check_out(cfg)
    device = pick_device()
    arithmetic = choose_precision(cfg.precision, device)
    if arithmetic.warning:
        warnings.warn(arithmetic.warning, stacklevel=2)
    cfg.out.mkdir(parents=True, exist_ok=True)
    run = _Run(cfg, device, arithmetic.name)
    sampler, val_batch = _data(cfg, run.rng, device)
    run.start_table(sampler)
    run.model.train()
    metrics: dict[str, float] = {}
    ema_loss, ema_bpp, t0 = None, None, time.perf_counter()
    last = cfg.steps if cfg.until is None else min(cfg.steps, cfg.until)
    for step in range(run.start, last):
        loss, bpp = _step(cfg, run, sampler, step)
        if run.average is not None:
            run.average.update(run.model)
        ema_loss = loss if ema_loss is None else 0.98 * ema_loss + 0.02 * loss
        done = step + 1
        metrics = {"loss": ema_loss, "psnr": 10 * math.log10(1.0 / ema_loss),
                   "steps_per_s": (done - run.start) / (time.perf_counter() - t0)}  # fmt: skip
        if bpp is not None:
            ema_bpp = bpp if ema_bpp is None else 0.98 * ema_bpp + 0.02 * bpp
            metrics["bpp"] = ema_bpp
        if val_batch is not None and (done % cfg.val_every == 0 or done in (cfg.steps, last)):
            elapsed = time.perf_counter() - t0
            metrics["total_s"] = round(run.seconds_before + elapsed, 1)  # over every session of the run
            metrics.update(_validate_and_log(cfg, run, val_batch, done, elapsed, metrics))
            if metrics["val_psnr"] > run.best:
                run.best = metrics["val_psnr"]
                checkpoint.save_weights(run.shipped, cfg.out / "best.safetensors")
        if done % cfg.checkpoint_every == 0 or done in (cfg.steps, last):
            run.save(done, time.perf_counter() - t0)
        if report is not None:
            report(done, metrics)
    if last == cfg.steps:
        with open(cfg.out / "log.jsonl", "a") as log:
            log.write(json.dumps({"step": cfg.steps, **metrics, "best_val_psnr": run.best}) + "\n")
    return {**metrics, "best_val_psnr": run.best}


def _step(cfg: TrainConfig, run: _Run, sampler: CropSampler, step: int) -> tuple[float, float | None]:
    """One optimizer step on a fresh batch; returns the batch's MSE and, with the rate term, its bpp."""
    for group in run.optimizer.param_groups:
        group["lr"] = cfg.lr_at(step)
    device = run.generator.device
    x = torch.from_numpy(sampler.batch(cfg.batch_size)).to(device)
    if cfg.channels_last:
        x = x.contiguous(memory_format=torch.channels_last)
    with torch.autocast(device.type, dtype=torch.bfloat16, enabled=run.precision == "bf16"):
        result = run.model.passes(x, generator=run.generator, sign_fraction=cfg.sign_fraction)
    terms = training_loss(result, x, grid_weight=cfg.grid_weight, table=run.rate, rate_weight=cfg.rate_weight,
                          rate_exponent=cfg.rate_exponent, first_level=cfg.model.levels[0])
    if run.rate is not None:
        run.rate_optimizer.zero_grad(set_to_none=True)
    run.optimizer.zero_grad(set_to_none=True)
    terms.total.backward()
    if cfg.clip:
        torch.nn.utils.clip_grad_norm_(run.model.parameters(), cfg.clip)
    run.optimizer.step()
    if run.rate is not None:
        run.rate_optimizer.step()
    return terms.mse.item(), terms.bpp


def _validate_and_log(cfg: TrainConfig, run: _Run, val_batch: torch.Tensor, step: int,
                      elapsed: float, metrics: dict[str, float]) -> dict[str, float]:  # fmt: skip
    per_level = validate(run.shipped, val_batch)
    result = {"val_psnr": float(np.mean(list(per_level.values())))}
    result.update({f"val_psnr_c{level}": v for level, v in per_level.items()})
    result.update({f"val_grid_c{level}": v for level, v in validate_grid(run.shipped).items()})
    if run.rate is not None:
        result.update({f"val_bpp_c{level}": v for level, v in validate_rate(run.shipped, run.rate, val_batch).items()})
    with open(cfg.out / "log.jsonl", "a") as log:
        log.write(json.dumps({"step": step, "elapsed_s": round(elapsed, 1), "precision": run.precision, **metrics,
                              **result}) + "\n")  # fmt: skip
    return result
