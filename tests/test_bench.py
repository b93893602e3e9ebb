from compact.bench import markdown


def _result(macs):
    return {"machine": "test", "gemm_peak_gflops": 100.0, "macs_per_pixel": macs, "rows": [], "pillow": [],
            "skipped": []}  # fmt: skip


def test_mac_count_is_na_without_the_bench_extra_not_zero():
    assert "n/a (counting needs onnx" in markdown(_result(None)).splitlines()[0]
    first = markdown(_result(26752.0)).splitlines()[0]
    assert "26752 MACs per pixel" in first and "n/a" not in first
