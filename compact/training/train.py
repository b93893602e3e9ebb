"""The training loop behind ``compact train``."""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch

from compact.config import ModelConfig
from compact.errors import DataError
from compact.training import checkpoint
from compact.training.data import CropSampler, ImageSet, center_crops, find_images, is_holdout
from compact.training.model import CompactAutoencoder


@dataclass
class TrainConfig:
    data: Path
    out: Path
    steps: int = 20_000
    batch_size: int = 8
    crop: int = 128
    lr: float = 1e-4
    model: ModelConfig = field(default_factory=ModelConfig)
    val: Path | None = None
    val_fraction: float = 0.05  # held out of ``data`` when no ``val`` folder is given
    val_crop: int = 256
    val_every: int = 1000
    checkpoint_every: int = 500
    seed: int = 0
    threads: int | None = None
    resume: bool = False
    init: Path | None = None  # warm start: copy every tensor (or its overlapping slice) from these weights

    def lr_at(self, step: int) -> float:
        """Step decay: x0.3 at 70% and again at 90% of the run."""
        frac = step / max(self.steps, 1)
        return self.lr * (0.3 ** ((frac >= 0.7) + (frac >= 0.9)))


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
    paths = find_images(cfg.data)
    if cfg.val is not None:
        return paths, find_images(cfg.val)
    train = [p for p in paths if not is_holdout(p, cfg.data, cfg.val_fraction)]
    val = [p for p in paths if is_holdout(p, cfg.data, cfg.val_fraction)]
    return train, val


@torch.no_grad()
def validate(model: CompactAutoencoder, batch: torch.Tensor) -> dict[int, float]:
    """Mean validation PSNR at every quality level (channels sent -> dB)."""
    model.eval()
    result = {}
    for level in model.config.levels:
        scores = [psnr(model(batch[i : i + 4], level), batch[i : i + 4]) for i in range(0, len(batch), 4)]
        result[level] = float(np.mean(scores))
    model.train()
    return result


@torch.no_grad()
def warm_start(model: CompactAutoencoder, path: Path) -> None:
    """Copy a smaller or equal model's tensors into ``model``: whole when shapes match, else the
    overlapping leading slice (e.g. a 16-channel code into the first 16 of 64). Decoder inputs for the
    new channels start at zero so the old levels keep their quality at step 0."""
    source = checkpoint.load_model(path).state_dict()
    for name, tensor in model.state_dict().items():
        if name not in source or source[name].dim() != tensor.dim():
            continue
        old = source[name]
        if name == "decoder.layers.0.conv.weight" and old.shape[1] < tensor.shape[1]:
            tensor[:, old.shape[1] :] = 0
        overlap = tuple(slice(0, min(a, b)) for a, b in zip(old.shape, tensor.shape, strict=True))
        tensor[overlap] = old[overlap]


Reporter = Callable[[int, dict[str, float]], None]


def train(cfg: TrainConfig, report: Reporter | None = None) -> dict[str, float]:
    """Train (or resume) into ``cfg.out``; returns the final metrics."""
    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    torch.manual_seed(cfg.seed)
    rng = np.random.default_rng(cfg.seed)
    device = pick_device()
    cfg.out.mkdir(parents=True, exist_ok=True)

    train_paths, val_paths = _split(cfg)
    train_set = ImageSet.load(train_paths, cfg.crop)
    sampler = CropSampler(train_set, cfg.crop, rng)
    val_batch = None
    if val_paths:
        val_set = ImageSet.load(val_paths, cfg.crop)
        # Validate on the largest centre square every held-out image has, up to val_crop.
        side = min(cfg.val_crop, min(min(a.shape[:2]) for a in val_set.images) // 16 * 16)
        val_batch = torch.from_numpy(center_crops(val_set, side)).to(device)

    model = CompactAutoencoder(cfg.model)
    if cfg.init is not None and not cfg.resume:
        warm_start(model, cfg.init)
    model = model.to(device)
    optimizer = torch.optim.Adam(model.parameters(), lr=cfg.lr)
    start, best = 0, -math.inf
    if cfg.resume:
        model = checkpoint.load_model(cfg.out).to(device)
        if model.config != cfg.model:
            raise DataError(f"checkpoint in {cfg.out} has {model.config}, not {cfg.model}")
        optimizer = torch.optim.Adam(model.parameters(), lr=cfg.lr)
        state = checkpoint.load_training_state(cfg.out, optimizer)
        start, best = state["step"], state["best_val_psnr"]
        rng.bit_generator.state = state["numpy_rng"]

    def save(step: int) -> None:
        checkpoint.save_weights(model, cfg.out / checkpoint.WEIGHTS)
        state = {"step": step, "best_val_psnr": best, "numpy_rng": rng.bit_generator.state,
                 "config": {**asdict(cfg), "data": str(cfg.data), "out": str(cfg.out),
                            "val": str(cfg.val) if cfg.val else None,
                            "init": str(cfg.init) if cfg.init else None}}  # fmt: skip
        checkpoint.save_training_state(cfg.out, optimizer, state)

    model.train()
    metrics: dict[str, float] = {}
    ema_loss, t0 = None, time.perf_counter()
    for step in range(start, cfg.steps):
        for group in optimizer.param_groups:
            group["lr"] = cfg.lr_at(step)
        x = torch.from_numpy(sampler.batch(cfg.batch_size)).to(device)
        loss = torch.mean((model(x) - x) ** 2)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        ema_loss = loss.item() if ema_loss is None else 0.98 * ema_loss + 0.02 * loss.item()
        done = step + 1
        metrics = {"loss": ema_loss, "psnr": 10 * math.log10(1.0 / ema_loss),
                   "steps_per_s": (done - start) / (time.perf_counter() - t0)}  # fmt: skip
        if val_batch is not None and (done % cfg.val_every == 0 or done == cfg.steps):
            per_level = validate(model, val_batch)
            metrics["val_psnr"] = float(np.mean(list(per_level.values())))
            metrics.update({f"val_psnr_c{level}": v for level, v in per_level.items()})
            with open(cfg.out / "log.jsonl", "a") as log:
                elapsed = time.perf_counter() - t0
                log.write(json.dumps({"step": done, "elapsed_s": round(elapsed, 1), **metrics}) + "\n")
            if metrics["val_psnr"] > best:
                best = metrics["val_psnr"]
                checkpoint.save_weights(model, cfg.out / "best.safetensors")
        if done % cfg.checkpoint_every == 0 or done == cfg.steps:
            save(done)
        if report is not None:
            report(done, metrics)
    with open(cfg.out / "log.jsonl", "a") as log:
        log.write(json.dumps({"step": cfg.steps, **metrics, "best_val_psnr": best}) + "\n")
    return {**metrics, "best_val_psnr": best}
