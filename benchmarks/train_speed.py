"""Time one training step of a COMPACT architecture under each precision and memory layout, in one run.

Every variant runs the same steps (batch of random crops, forward, MSE, backward, Adam) on the same number
of threads; the table gives the median ms per step over the timed steps and each variant's speed relative to
plain fp32, so the ratios come from one process on one machine state.

    python benchmarks/train_speed.py --threads 1 [--wide] [--compile] [--rate] [--steps 20]

``--rate`` adds the fastest layout with the rate term (compact.training.rate: contexts, table lookup, expected
code length per level), to show what rate-aware training costs per step.
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch

from compact.config import ModelConfig
from compact.training import rate
from compact.training.model import CompactAutoencoder

WIDE = {"encoder_widths": (64, 96, 128, 192, 192), "decoder_widths": (192, 192, 128, 96, 64)}


def time_variant(config: ModelConfig, precision: str, channels_last: bool, compiled: bool, steps: int,
                 batch: int, crop: int, with_rate: bool = False) -> tuple[float, float]:  # fmt: skip
    """(median ms per step, seconds of the first step: compilation when ``compiled``)."""
    torch.manual_seed(0)
    model = CompactAutoencoder(config).train()
    layout = torch.channels_last if channels_last else torch.contiguous_format
    model = model.to(memory_format=layout)
    optimizer = torch.optim.Adam(model.parameters(), 3e-4)
    forward = torch.compile(model) if compiled else model
    table = rate.ContextRate(config.latent_channels)
    if with_rate:
        optimizer.add_param_group({"params": table.parameters()})
    x = torch.rand(batch, 3, crop, crop).contiguous(memory_format=layout)
    times = []
    for _ in range(steps + 1):
        t0 = time.perf_counter()
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=precision == "bf16"):
            result = model.passes(x, sign_fraction=0.5) if with_rate else None  # the rate variant is not compiled
            out = result.image if result is not None else forward(x, sign_fraction=0.5)
        loss = torch.mean((out.float() - x) ** 2)
        if with_rate:
            cells = table.bits_per_cell(result.latent, result.bits)
            per_sample = rate.rate_bpp(cells, result.counts, crop * crop)
            loss = loss + torch.mean(rate.level_weights(result.counts, 0.02, 1.0, config.levels[0]) * per_sample)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        times.append(time.perf_counter() - t0)
    return 1e3 * statistics.median(times[1:]), times[0]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--steps", type=int, default=20, help="timed steps per variant (after one warm-up)")
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--crop", type=int, default=128)
    parser.add_argument("--wide", action="store_true", help="the widened architecture (docs/TRAINING.md)")
    parser.add_argument("--compile", action="store_true", help="also time torch.compile variants")
    parser.add_argument("--rate", action="store_true", help="also time bf16 channels_last with the rate term")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    config = ModelConfig(64, 64, levels=(8, 16, 32, 64), **(WIDE if args.wide else {}))
    variants = [(p, cl, False, False) for p in ("fp32", "bf16") for cl in (False, True)]
    if args.compile:
        variants += [("fp32", True, True, False), ("bf16", True, True, False)]
    if args.rate:
        variants += [("bf16", True, False, True)]
    print(f"{'wide' if args.wide else 'N=64'} architecture, batch {args.batch} x {args.crop}^2, "
          f"{args.threads} thread(s), torch {torch.__version__}")  # fmt: skip
    print(f"{'precision':<10} {'layout':<14} {'compiled':<9} {'rate':<6} {'ms/step':>8} {'steps/s':>8} {'vs fp32':>8}")
    base = None
    for precision, channels_last, compiled, with_rate in variants:
        ms, first = time_variant(config, precision, channels_last, compiled, args.steps, args.batch, args.crop,
                                 with_rate)  # fmt: skip
        base = base or ms
        layout = "channels_last" if channels_last else "contiguous"
        note = f"  (first step {first:.0f} s)" if compiled else ""
        print(f"{precision:<10} {layout:<14} {str(compiled).lower():<9} {str(with_rate).lower():<6} {ms:>8.0f} "
              f"{1e3 / ms:>8.2f} {base / ms:>7.2f}x{note}")  # fmt: skip


if __name__ == "__main__":
    main()
