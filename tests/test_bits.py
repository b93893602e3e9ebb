import numpy as np
import pytest

from compact import bits
from compact.errors import FormatError


def test_binarize_maps_zero_to_plus_one_and_never_emits_zero_symbols():
    latent = np.array([-1.0, -1e-7, 0.0, 1e-7, 1.0], dtype=np.float32)
    b = bits.binarize(latent)
    assert b.tolist() == [0, 0, 1, 1, 1]
    assert set(bits.bits_to_symbols(b).tolist()) == {-1.0, 1.0}


def test_bit_order_is_channel_major_msb_first():
    code = np.zeros((2, 2, 3), dtype=np.uint8)
    code[0, 0, 0] = 1  # first bit -> MSB of byte 0
    code[1, 1, 2] = 1  # 12th bit (index 11) -> byte 1, bit value 1 << (7 - 3)
    assert bits.pack(code) == bytes([0b1000_0000, 0b0001_0000])


@pytest.mark.parametrize("shape", [(1, 1, 1), (16, 3, 5), (16, 32, 48), (3, 7, 11)])
def test_pack_unpack_round_trip(shape):
    code = np.random.default_rng(1).integers(0, 2, shape, dtype=np.uint8)
    payload = bits.pack(code)
    assert len(payload) == bits.packed_size(shape)
    assert np.array_equal(bits.unpack(payload, shape), code)


def test_unpack_rejects_wrong_length():
    with pytest.raises(FormatError):
        bits.unpack(b"\x00" * 3, (16, 2, 2))
