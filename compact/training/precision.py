"""Which arithmetic ``compact train`` uses: bf16 autocast only where the hardware runs bf16 natively.

On a CPU without AVX512_BF16 or AMX, oneDNN emulates bf16 and a step of the wide model takes 10-20x longer
than fp32 (measured on an AVX2-only EPYC: 17.5 s vs 0.82 s per step); with it, bf16 is 2.1x faster than
fp32 (training-facts.md). ``auto`` picks accordingly, so the same recipe runs well on either machine.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch

CHOICES = ("fp32", "bf16", "auto")
#: CPU flags (Linux /proc/cpuinfo names) under which oneDNN computes bf16 in hardware
NATIVE_CPU_FLAGS = frozenset({"avx512_bf16", "amx_bf16"})


@dataclass(frozen=True)
class Precision:
    """The precision a run uses, and why; ``warning`` is set when it will be slow."""

    name: str
    reason: str
    warning: str | None = None


def cpu_flags(cpuinfo: Path = Path("/proc/cpuinfo")) -> frozenset[str]:
    """The CPU's feature flags, empty where the file does not exist (macOS, Windows)."""
    if not cpuinfo.is_file():
        return frozenset()
    for line in cpuinfo.read_text().splitlines():
        if line.startswith("flags"):
            return frozenset(line.split(":", 1)[1].split())
    return frozenset()


def native_bf16(device: torch.device, flags: frozenset[str] | None = None) -> bool:
    """Whether ``device`` computes bf16 in hardware (emulation does not count: it is slower than fp32)."""
    if device.type == "cuda":
        return torch.cuda.is_bf16_supported(including_emulation=False)
    if device.type == "cpu":
        return bool(NATIVE_CPU_FLAGS & (cpu_flags() if flags is None else flags))
    return False


def choose(requested: str, device: torch.device, flags: frozenset[str] | None = None) -> Precision:
    """``requested`` (one of CHOICES) resolved for ``device``; only ``auto`` and ``bf16`` probe the hardware."""
    if requested == "fp32":
        return Precision("fp32", "requested")
    native = native_bf16(device, flags)
    if requested == "auto":
        if native:
            return Precision("bf16", f"auto: {device.type} computes bf16 natively")
        return Precision("fp32", f"auto: {device.type} has no native bf16")
    if not native:  # requested == "bf16"
        return Precision("bf16", "requested", f"{device.type} has no native bf16: it is emulated, and a step "
                         "can take 10x longer than fp32; --precision auto would pick fp32 here")  # fmt: skip
    return Precision("bf16", "requested")
