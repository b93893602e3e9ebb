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


@pytest.fixture(scope="module")
def golden():
    meta = json.loads((FIXTURES / "meta.json").read_text())
    shape = tuple(meta["shape"])
    model = entropy.ContextModel.from_json((FIXTURES / "context.json").read_text())
    code = bits.unpack((FIXTURES / "code.bin").read_bytes(), shape)
    return model, code, (FIXTURES / "stream.bin").read_bytes(), meta


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
