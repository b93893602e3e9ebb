import math

import pytest

pytest.importorskip("bjontegaard")

from compact.evaluation.harness import Measurement  # noqa: E402
from compact.evaluation.summary import (  # noqa: E402
    _interp_log_rate,
    _quality_at,
    bd_rate,
    matched,
    mean_curves,
    summarize,
)


def _rows(codec, points, image="a"):
    return [Measurement(image, codec, s, int(b), 8 * b / 1e4, q, m, 100, 100) for s, b, q, m in points]


def _curve(scale):
    """A log-rate curve: quality = 10 log2(bytes); ``scale`` multiplies every file size."""
    return [(s, 1000 * 2**s * scale, 10 * math.log2(1000 * 2**s), 1 - 0.5 ** (s + 1)) for s in range(1, 6)]


def test_interpolation_is_linear_in_log_bytes_and_flags_bounds():
    curve = [(100.0, 20.0), (400.0, 30.0)]
    assert _interp_log_rate(curve, 25.0) == (pytest.approx(200.0), False)
    assert _interp_log_rate(curve, 10.0) == (100.0, True)  # the smallest file is already better
    assert _interp_log_rate(curve, 40.0) is None  # never reached
    assert _quality_at(curve, 200.0) == pytest.approx(25.0)
    assert _quality_at(curve, 50.0) is None  # cannot make a file that small


def test_bd_rate_of_a_curve_at_half_the_rate_is_minus_50_percent():
    rows = _rows("jpeg", _curve(1.0)) + _rows("compact", _curve(0.5))
    curves = mean_curves(rows)
    for metric in ("psnr", "msssim"):
        result = bd_rate(curves, "jpeg", metric)
        assert result.percent == pytest.approx(-50.0, abs=0.5)
    far = _rows("jpeg", [(s, b, q + 100, 0.5) for s, b, q, _ in _curve(1.0)]) + _rows("compact", _curve(1.0))
    result = bd_rate(mean_curves(far), "jpeg", "psnr")
    assert result.percent is None and "no quality overlap" in result.note


def test_matched_quality_and_targets():
    rows = _rows("jpeg", _curve(4.0)) + _rows("compact", _curve(1.0))
    m = matched(rows, "jpeg", 3.0)
    # COMPACT's quality-3 point needs 4x the bytes from "jpeg", for PSNR and for MS-SSIM alike
    assert m.mean_bytes_at_matched_psnr == pytest.approx(4 * 8000)
    assert m.mean_bytes_at_matched_msssim == pytest.approx(4 * 8000)
    summary = summarize(rows, default_quality=3)
    ratio = summary["targets"]["jpeg bytes / COMPACT bytes at matched MS-SSIM >= 5"]
    assert ratio["value"] == pytest.approx(4.0) and ratio["met"] is False
