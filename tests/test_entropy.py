import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from compact import bits, entropy
from compact.errors import FormatError, ModelError

FIXTURES = Path(__file__).parent / "fixtures" / "entropy"


def _golden(suffix: str):
    """(table, code, stream, meta) of a golden fixture: "" is layout 1, "-v2" layout 2."""
    meta = json.loads((FIXTURES / "meta.json").read_text())
    meta = meta["v2"] if suffix else meta
    model = entropy.ContextModel.from_json((FIXTURES / f"context{suffix}.json").read_text())
    code = bits.unpack((FIXTURES / f"code{suffix}.bin").read_bytes(), tuple(meta["shape"]))
    return model, code, (FIXTURES / f"stream{suffix}.bin").read_bytes(), meta


@pytest.fixture(scope="module")
def golden():
    return _golden("")


def test_golden_stream_is_reproduced_byte_for_byte(golden):
    model, code, stream, meta = golden
    assert model.context_id == meta["context_id"]
    assert entropy.encode(code, model) == stream
    assert np.array_equal(entropy.decode(stream, code.shape, model), code)
    assert len(stream) < bits.packed_size(code.shape) * 0.85  # correlated bits really get smaller


@pytest.mark.parametrize(
    "pattern",
    ["zeros", "ones", "random", "checker", "single-cell", "one-row", "one-column"],
)
def test_bit_exact_round_trip_on_adversarial_patterns(golden, pattern):
    model = golden[0]
    rng = np.random.default_rng(5)
    shapes = {"single-cell": (16, 1, 1), "one-row": (16, 1, 37), "one-column": (16, 29, 1)}
    shape = shapes.get(pattern, (16, 13, 17))
    code = {
        "zeros": np.zeros(shape, np.uint8),
        "ones": np.ones(shape, np.uint8),
        "checker": (np.indices(shape).sum(0) % 2).astype(np.uint8),
    }.get(pattern, rng.integers(0, 2, shape, dtype=np.uint8))
    assert np.array_equal(entropy.decode(entropy.encode(code, model), shape, model), code)


def test_many_random_codes_round_trip(golden):
    model = golden[0]
    rng = np.random.default_rng(6)
    for _ in range(30):
        shape = (16, int(rng.integers(1, 20)), int(rng.integers(1, 20)))
        code = (rng.random(shape) < rng.random()).astype(np.uint8)
        assert np.array_equal(entropy.decode(entropy.encode(code, model), shape, model), code)


DETERMINISM = """
import sys, numpy as np
from pathlib import Path
from compact import bits, entropy
root = Path(sys.argv[1])
model = entropy.ContextModel.from_json((root / "context.json").read_text())
shape = (16, 20, 28)
code = entropy.decode((root / "stream.bin").read_bytes(), shape, model)
assert code.tobytes() == bits.unpack((root / "code.bin").read_bytes(), shape).tobytes()
print(model.table.sum(), bits.pack(code).hex()[:32])
"""


def test_decoding_is_identical_with_one_and_two_threads(golden):
    outputs = []
    for threads in ("1", "2"):
        env = {**os.environ, "OMP_NUM_THREADS": threads, "OPENBLAS_NUM_THREADS": threads, "MKL_NUM_THREADS": threads}
        proc = subprocess.run([sys.executable, "-c", DETERMINISM, str(FIXTURES)], env=env, capture_output=True,
                              text=True)  # fmt: skip
        assert proc.returncode == 0, proc.stderr
        outputs.append(proc.stdout)
    assert outputs[0] == outputs[1]


def test_fit_learns_skewed_channels():
    rng = np.random.default_rng(7)
    codes = [(rng.random((16, 10, 10)) < 0.9).astype(np.uint8) for _ in range(4)]
    model = entropy.ContextModel.fit(codes)
    assert model.table.dtype == np.uint32 and model.table.min() >= 1 and model.table.max() < entropy.PROB_ONE
    # channel 0, anchors, no previous channels: context = 0 -> P(1) ~ 0.9
    assert abs(model.table[0, 0, 0] / entropy.PROB_ONE - 0.9) < 0.05
    code = codes[0]
    assert len(entropy.encode(code, model)) < 0.7 * bits.packed_size(code.shape)


def test_invalid_context_models_and_payloads(golden):
    model, code, stream, _ = golden
    with pytest.raises(ModelError):
        entropy.ContextModel.from_json("{}")
    data = json.loads(model.to_json())
    data["table"][0] = 0
    with pytest.raises(ModelError, match="outside"):
        entropy.ContextModel.from_json(json.dumps(data))
    with pytest.raises(FormatError, match="32-bit words"):
        entropy.decode(stream[:-1], code.shape, model)
    with pytest.raises(ModelError):
        entropy.decode(stream, (model.channels + 1, *code.shape[1:]), model)


def test_leading_channels_code_alone(golden):
    """A lower quality level sends a prefix of the channels; it round-trips with the table's first rows."""
    model, code, _, _ = golden
    prefix = code[:8]
    stream = entropy.encode(prefix, model)
    assert np.array_equal(entropy.decode(stream, prefix.shape, model), prefix)
    assert len(stream) < len(entropy.encode(code, model))


def test_garbage_payloads_give_bits_or_a_format_error(golden):
    model = golden[0]
    rng = np.random.default_rng(8)
    for payload in [b"\xff" * 8, *(rng.bytes(4 * int(rng.integers(1, 40))) for _ in range(200))]:
        try:
            code = entropy.decode(payload, (16, 20, 28), model)
        except FormatError:
            continue
        assert code.shape == (16, 20, 28) and code.max() <= 1


@pytest.fixture(scope="module")
def golden_v2():
    return _golden("-v2")


def test_layout_2_golden_stream_is_reproduced_byte_for_byte(golden_v2):
    model, code, stream, meta = golden_v2
    assert model.layout == 2 and model.context_id == meta["context_id"]
    assert entropy.encode(code, model) == stream
    assert np.array_equal(entropy.decode(stream, code.shape, model), code)
    assert entropy.ContextModel.from_json(model.to_json()).context_id == model.context_id


def _echoes(rng, shape=(10, 9, 11)):
    """Channels 0-4 random; channel c >= 5 repeats channel c - 5 with 5% of its bits flipped."""
    code = np.zeros(shape, np.uint8)
    code[:5] = rng.random((5, *shape[1:])) < 0.5
    for c in range(5, shape[0]):
        code[c] = code[c - 5] ^ (rng.random(shape[1:]) < 0.05)
    return code


def test_chosen_parents_find_the_channel_a_channel_repeats():
    rng = np.random.default_rng(11)
    codes = [_echoes(rng) for _ in range(8)]
    parents = entropy.choose_parents(codes)
    for c in range(5, 10):
        assert parents[c][0][0] == parents[c][1][0] == c - 5, (c, parents[c])
    test = _echoes(rng)
    chosen = entropy.encode(test, entropy.ContextModel.fit(codes, parents))
    below = entropy.encode(test, entropy.ContextModel.fit(codes))  # layout 1: channels c-1..c-4 only
    # the channel each one repeats is 5 below: out of layout 1's reach, so it pays for them (the control)
    assert len(chosen) < 0.8 * len(below)
    assert np.array_equal(entropy.decode(chosen, test.shape, entropy.ContextModel.fit(codes, parents)), test)


def test_layout_2_prefixes_and_random_codes_round_trip(golden_v2):
    model = golden_v2[0]
    rng = np.random.default_rng(12)
    for _ in range(20):
        shape = (int(rng.integers(1, model.channels + 1)), int(rng.integers(1, 15)), int(rng.integers(1, 15)))
        code = (rng.random(shape) < rng.random()).astype(np.uint8)
        assert np.array_equal(entropy.decode(entropy.encode(code, model), shape, model), code)


@pytest.mark.parametrize(
    "parents, match",
    [
        ("later", "earlier channels"),  # a channel's own index or a later one: a prefix could not decode
        ("repeated", "distinct"),
        ("too many", "at most 8"),
        ("missing row", "earlier channels"),
    ],
)
def test_layout_2_refuses_parents_a_decoder_cannot_follow(golden_v2, parents, match):
    data = json.loads(golden_v2[0].to_json())
    rows = data["parents"]
    if parents == "later":
        rows[5][0] = [5]
    elif parents == "repeated":
        rows[5][1] = [1, 1]
    elif parents == "too many":
        rows[15][0] = list(range(9))
    else:
        rows.pop()
    with pytest.raises(ModelError, match=match):
        entropy.ContextModel.from_json(json.dumps(data))


def test_layouts_do_not_mix_their_fields(golden, golden_v2):
    v1 = json.loads(golden[0].to_json())
    v1["version"] = 2
    with pytest.raises(ModelError, match="unsupported"):
        entropy.ContextModel.from_json(json.dumps(v1))
    v2 = json.loads(golden_v2[0].to_json())
    v2["parent_bits"] = 6
    with pytest.raises(ModelError, match="unsupported"):
        entropy.ContextModel.from_json(json.dumps(v2))
