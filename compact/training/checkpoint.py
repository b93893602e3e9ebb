"""Checkpoints as safetensors (no pickle): weights, optimizer moments and a JSON state for resuming."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file, save_file

from compact.config import ModelConfig
from compact.errors import ModelError
from compact.files import write_atomic, write_with
from compact.training.model import CompactAutoencoder

WEIGHTS = "weights.safetensors"
#: the moving average of the weights (what validation scores and best.safetensors holds)
AVERAGE = "average.safetensors"


def save_weights(model: CompactAutoencoder, path: Path) -> None:
    tensors = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    metadata = {"config": json.dumps(model.config.to_dict())}

    def write(tmp: Path) -> None:
        save_file(tensors, str(tmp), metadata=metadata)
        tmp.chmod(0o644)  # safetensors creates owner-only files; weights are shipped and shared

    write_with(path, write, force=True)


def load_model(path: Path) -> CompactAutoencoder:
    """Load a model from a weights file or a folder holding ``weights.safetensors``."""
    path = Path(path)
    if path.is_dir():
        path = path / WEIGHTS
    if not path.is_file():
        raise ModelError(f"checkpoint not found: {path}")
    from safetensors import SafetensorError, safe_open

    try:
        with safe_open(str(path), framework="pt") as f:
            meta = f.metadata() or {}
        if "config" not in meta:
            raise ModelError(f"{path} has no COMPACT config in its metadata")
        model = CompactAutoencoder(ModelConfig.from_dict(json.loads(meta["config"])))
        missing, unexpected = model.load_state_dict(load_file(str(path)), strict=False)
    except (SafetensorError, ValueError, KeyError, TypeError, RuntimeError) as exc:
        raise ModelError(f"{path} is not a usable COMPACT checkpoint: {exc}") from exc
    if missing or unexpected:
        raise ModelError(f"{path} does not match the model: missing {missing}, unexpected {unexpected}")
    return model


def model_id(model: CompactAutoencoder) -> str:
    """16 hex digits of a SHA-256 over the config and every tensor, in a canonical order."""
    h = hashlib.sha256(json.dumps(model.config.to_dict(), sort_keys=True).encode())
    for name, tensor in sorted(model.state_dict().items()):
        h.update(name.encode())
        h.update(tensor.detach().cpu().contiguous().numpy().tobytes())
    return h.hexdigest()[:16]


def save_training_state(out: Path, optimizer: torch.optim.Optimizer, state: dict[str, Any],
                        generator: torch.Generator) -> None:  # fmt: skip
    opt = optimizer.state_dict()
    tensors = {
        f"{idx}.{key}": value.detach().cpu().reshape(-1) if value.dim() == 0 else value.detach().cpu().contiguous()
        for idx, slots in opt["state"].items()
        for key, value in slots.items()
    }
    tensors["torch_rng"] = generator.get_state()
    write_with(out / "optimizer.safetensors", lambda tmp: save_file(tensors, str(tmp)), force=True)
    full = {**state, "param_groups": opt["param_groups"]}
    write_atomic(out / "state.json", json.dumps(full, indent=1).encode(), force=True)


def load_training_state(out: Path, optimizer: torch.optim.Optimizer, generator: torch.Generator) -> dict[str, Any]:
    from safetensors import SafetensorError

    try:
        state = json.loads((out / "state.json").read_text())
        tensors = load_file(str(out / "optimizer.safetensors"))
        slots: dict[int, dict[str, torch.Tensor]] = {}
        for key, value in tensors.items():
            if key == "torch_rng":
                continue
            idx, name = key.split(".", 1)
            slots.setdefault(int(idx), {})[name] = value.reshape(()) if name == "step" else value
        params = [p for group in optimizer.param_groups for p in group["params"]]
        for idx, slot in slots.items():  # moments take their parameter's layout (e.g. channels_last)
            for name, value in slot.items():
                if name != "step":
                    slot[name] = torch.empty_like(params[idx]).copy_(value)
        optimizer.load_state_dict({"state": slots, "param_groups": state.pop("param_groups")})
        generator.set_state(tensors["torch_rng"])
    except (OSError, SafetensorError, ValueError, KeyError, TypeError, RuntimeError) as exc:
        raise ModelError(f"cannot resume from {out}: {exc}") from exc
    return state
