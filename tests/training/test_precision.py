import pytest

torch = pytest.importorskip("torch")

from compact.training import precision  # noqa: E402

CPU = torch.device("cpu")
AMX = frozenset({"avx512f", "avx512_bf16", "amx_bf16"})
AVX512 = frozenset({"avx2", "avx512f", "avx512_vnni"})  # oneDNN accepts this and emulates bf16
AVX2 = frozenset({"avx2", "fma"})


@pytest.mark.parametrize(("flags", "expected"), [(AMX, "bf16"), (frozenset({"avx512_bf16"}), "bf16"),
                                                 (AVX512, "fp32"), (AVX2, "fp32"), (frozenset(), "fp32")])  # fmt: skip
def test_auto_picks_bf16_only_where_the_cpu_computes_it(flags, expected):
    chosen = precision.choose("auto", CPU, flags)
    assert chosen.name == expected and chosen.warning is None and chosen.reason.startswith("auto")


def test_bf16_on_a_cpu_that_emulates_it_is_kept_but_warned_about():
    assert "emulated" in precision.choose("bf16", CPU, AVX2).warning
    assert precision.choose("bf16", CPU, AMX).warning is None  # control
    assert precision.choose("fp32", CPU, AVX2) == precision.Precision("fp32", "requested")


def test_cuda_counts_only_bf16_in_hardware(monkeypatch):
    seen = {}

    def supported(including_emulation=True):
        seen["emulation"] = including_emulation
        return False

    monkeypatch.setattr(torch.cuda, "is_bf16_supported", supported)
    assert precision.choose("auto", torch.device("cuda")).name == "fp32" and seen == {"emulation": False}
    assert precision.choose("auto", torch.device("mps")).name == "fp32"


def test_cpu_flags_are_read_from_cpuinfo(tmp_path):
    info = tmp_path / "cpuinfo"
    info.write_text("processor\t: 0\nflags\t\t: fpu avx2 amx_bf16\nbugs\t\t: spectre\n")
    assert precision.cpu_flags(info) == {"fpu", "avx2", "amx_bf16"}
    assert precision.cpu_flags(tmp_path / "absent") == frozenset()
