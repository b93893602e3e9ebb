"""``compact export`` checks what it wrote before it finishes: every runtime this machine can run, on the
exported files, against torch, at sizes that stress the borders (in the manner of apple/ml-stable-diffusion's
converter, which checks each converted model's output against torch).
"""

from __future__ import annotations

import numpy as np
from PIL import Image

from compact.errors import ModelError
from compact.manifest import ModelBundle
from compact.parity import BOUNDS, ParityReport, run_parity
from compact.runtimes import BACKENDS

#: (height, width): one pixel, and sizes no Core ML shape lists (padding inside the program) in both orientations
CHECK_SIZES: tuple[tuple[int, int], ...] = ((1, 1), (130, 100), (17, 333))


def probe_image(height: int, width: int, seed: int) -> np.ndarray:
    """A photo-like HxWx3 uint8 picture: smooth colour, a hard diagonal edge and fine noise."""
    rng = np.random.default_rng(seed)
    coarse = (rng.random((max(2, height // 8), max(2, width // 8), 3)) * 255).astype(np.uint8)
    smooth = np.asarray(Image.fromarray(coarse).resize((width, height), Image.BICUBIC), dtype=np.float32)
    yy, xx = np.mgrid[0:height, 0:width]
    smooth[yy + xx > (height + width) // 2] *= 0.4
    noisy = smooth + rng.normal(0.0, 6.0, smooth.shape)
    return np.clip(noisy, 0, 255).round().astype(np.uint8)


def check_export(bundle: ModelBundle, sizes: tuple[tuple[int, int], ...] = CHECK_SIZES) -> ParityReport:
    """Parity of the exported files in ``bundle``; raises ModelError naming every row outside its bounds."""
    images = [(f"{w}x{h}", probe_image(h, w, seed=i)) for i, (h, w) in enumerate(sizes)]
    report = run_parity(images, bundle)
    # Only what this export wrote is checked: a backend skipped for lack of files was not exported now.
    report.skipped = [line for line in report.skipped if bundle.has(BACKENDS[line.split(":", 1)[0]].requires)]
    bad = [row for row in report.rows if not row.ok]
    if bad:
        lines = "; ".join(
            f"{r.backend} ({r.precision}) at {r.image}: {r.decoder_psnr:.1f} dB, {r.flipped_bits}/{r.total_bits} "
            f"bits flipped (bound >= {BOUNDS[r.precision].min_decoder_psnr:g} dB, "
            f"<= {BOUNDS[r.precision].max_flipped:g})"
            for r in bad
        )
        raise ModelError(f"the exported files do not reproduce torch, nothing was written: {lines} "
                         "(--no-check writes them anyway)")  # fmt: skip
    return report
