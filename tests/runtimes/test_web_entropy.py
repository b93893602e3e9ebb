"""The browser runtime's JavaScript (compact/runtimes/web/lib) against the Python reader and writer, in Node.

The JS range coder is written from docs/FORMAT.md ("Range coder, exactly"); these tests hold it to
constriction bit for bit, and the JS container parser to the Python one error message for error message.
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import struct
import subprocess
import zlib
from pathlib import Path

import numpy as np
import pytest

from compact import bits, container, entropy
from compact.errors import CompactError

pytestmark = pytest.mark.web

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = Path(__file__).with_name("web_check.mjs")
FIXTURES = ROOT / "tests" / "fixtures" / "entropy"
NODE = shutil.which("node")


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def run_js(tmp_path: Path, jobs: dict) -> dict:
    if NODE is None:
        reason = "node is not installed (needed to run the browser runtime's JavaScript outside a browser)"
        if os.environ.get("COMPACT_REQUIRE_WEB") == "1":
            pytest.fail(reason)
        pytest.skip(reason)
    path = tmp_path / "jobs.json"
    path.write_text(json.dumps(jobs))
    done = subprocess.run([NODE, str(SCRIPT), str(path)], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def entropy_job(code: np.ndarray, stream: bytes) -> dict:
    return {"shape": list(code.shape), "code": b64(bits.pack(code)), "stream": b64(stream)}


def random_table(rng: np.random.Generator, channels: int) -> entropy.ContextModel:
    """Probabilities everywhere in 1..65535, extremes included, to exercise every corner of the coder."""
    shape = (channels, 2, 80)
    table = rng.integers(1, 65536, shape)
    extremes = rng.choice(np.array([1, 2, 3, 32768, 65533, 65534, 65535]), shape)
    table = np.where(rng.random(shape) < 0.3, extremes, table)
    return entropy.ContextModel(table.astype(np.uint32))


@pytest.mark.parametrize("suffix", ["", "-v2"], ids=["layout 1", "layout 2"])
def test_golden_stream_and_random_codes_are_bit_exact(tmp_path, suffix):
    context_text = (FIXTURES / f"context{suffix}.json").read_text()
    model = entropy.ContextModel.from_json(context_text)
    meta = json.loads((FIXTURES / "meta.json").read_text())
    meta = meta["v2"] if suffix else meta
    golden = bits.unpack((FIXTURES / f"code{suffix}.bin").read_bytes(), tuple(meta["shape"]))
    codes = [golden]
    rng = np.random.default_rng(0)
    for i in range(80):
        # channel prefixes (lower quality levels), thin and single-cell grids, skewed and uniform bits
        shape = (int(rng.integers(1, model.channels + 1)), int(rng.integers(1, 24)), int(rng.integers(1, 24)))
        density = [0.02, 0.5, 0.98, rng.random()][i % 4]
        codes.append((rng.random(shape) < density).astype(np.uint8))
    jobs = {"context": context_text, "entropy": [entropy_job(c, entropy.encode(c, model)) for c in codes]}
    out = run_js(tmp_path, jobs)
    assert out["context_id"] == model.context_id == meta["context_id"]
    assert out["entropy"][0]["encoded"] == b64((FIXTURES / f"stream{suffix}.bin").read_bytes())
    for job, result in zip(jobs["entropy"], out["entropy"], strict=True):
        assert result["decoded"] == job["code"], job["shape"]
        assert result["encoded"] == job["stream"], job["shape"]


def test_extreme_probabilities_and_garbage_payloads_match_constriction(tmp_path):
    rng = np.random.default_rng(1)
    model = random_table(rng, 6)
    jobs: dict = {"context": model.to_json(), "entropy": []}
    expected = []
    for i in range(60):
        shape = (int(rng.integers(1, 7)), int(rng.integers(1, 20)), int(rng.integers(1, 20)))
        code = (rng.random(shape) < rng.random()).astype(np.uint8)
        if i % 2:  # random words: both readers must agree on the bits, or on the corruption error
            stream = rng.integers(0, 256, 4 * int(rng.integers(1, 6)), dtype=np.uint8).tobytes()
            if i % 5 == 1:  # a point past the last quantile: the one corruption a range decoder can see
                stream = b"\xff" * 8 + stream
            try:
                decoded = b64(bits.pack(entropy.decode(stream, shape, model)))
            except CompactError as exc:
                decoded = f"{type(exc).__name__}: {exc}"
        else:
            stream = entropy.encode(code, model)
            decoded = b64(bits.pack(code))
        jobs["entropy"].append(entropy_job(code, stream))
        expected.append((decoded, b64(entropy.encode(code, model))))
    out = run_js(tmp_path, jobs)
    assert [(r["decoded"], r["encoded"]) for r in out["entropy"]] == expected
    assert any(d.startswith("FormatError: entropy-coded payload is corrupt") for d, _ in expected)


def _with_crc(body: bytes) -> bytes:
    return body + struct.pack(">I", zlib.crc32(body))


def malformed_streams(valid: bytes, entropy_coded: bytes) -> list[bytes]:
    """Every prefix of a valid stream, and header fields broken one at a time (CRC fixed so they count)."""
    body = valid[:-4]
    cases = [valid[:n] for n in range(len(valid))]
    cases += [valid + b"\0", valid[:-1] + bytes([valid[-1] ^ 1]), b"PNG" + valid[3:], b"XY"]
    patches = {4: b"\x03", 5: b"\x08", 14: b"\0\0\0\0", 18: b"\0\1\0\0", 22: b"\0\x11", 24: b"\0\x09", 28: b"\0\0\0\1"}
    cases += [_with_crc(body[:at] + value + body[at + len(value) :]) for at, value in patches.items()]
    cases += [_with_crc(body[:32] + b"\x7f\xff\xff\xff" + body[36:])]  # alpha block far beyond the stream
    cases += [_with_crc(body[:32] + b"\x05\x00\x00\x00" + body[36:])]  # alpha block over 64 MiB
    cases += [_with_crc(entropy_coded[:32] + b"\0\0\0\x05" + entropy_coded[36:-4])]  # v2 payload not words
    cases += [entropy_coded[:n] for n in range(0, 40, 3)]
    cases += [_with_crc(body[:-19] + b"\0\0\0\x0e" + body[-15:-1])]  # a colour block one byte short
    return cases


def python_result(data: bytes) -> dict:
    try:
        header, payload, ext = container.read(data)
    except CompactError as exc:
        return {"ok": False, "error": type(exc).__name__, "message": str(exc)}
    return {"ok": True, "version": header.version, "width": header.width, "height": header.height,
            "channels": header.channels, "payload": b64(payload), "alpha": ext.alpha and b64(ext.alpha),
            "icc": ext.icc and b64(ext.icc), "colour": ext.colour and b64(ext.colour)}  # fmt: skip


def test_container_reader_gives_python_errors(tmp_path):
    rng = np.random.default_rng(2)
    code = rng.integers(0, 2, (16, 2, 3), dtype=np.uint8)
    header = container.Header(bytes(range(8)), 40, 20, 16, 2, 3, bits.packed_size(code.shape))
    exts = container.Extensions(alpha=b"\x89PNG fake alpha", icc=b"icc profile bytes", colour=bytes(range(15)))
    valid = container.write(header, bits.pack(code), exts)
    v2 = container.write(
        container.Header(bytes(8), 1000, 1000, 16, 63, 63, 1000, version=container.ENTROPY_CODED, context_id=b"abcd"),
        bytes(1000),
    )
    streams = [valid, v2, container.write(header, bits.pack(code)), *malformed_streams(valid, v2)]
    out = run_js(tmp_path, {"containers": [b64(s) for s in streams]})
    for stream, js in zip(streams, out["containers"], strict=True):
        assert js == python_result(stream), stream[:40]


def test_colour_correction_fits_and_applies_as_in_python(tmp_path):
    """The page's writer fits the same colour block as Python's and its reader applies a block to the same
    pixels, on pictures where the correction matters (a cast, a flat colour with a pattern) and where it
    does not (an exact decode: no block)."""
    from conftest import natural_image

    from compact import colour

    rng = np.random.default_rng(5)
    photo = natural_image(40, 56, seed=5)
    cast = np.clip(photo.astype(int) * [0.9, 1.05, 1.0] + [12, -7, 3] + rng.normal(0, 3, photo.shape), 0, 255)
    flat = np.full((16, 24, 3), (200, 30, 40), np.uint8)
    pattern = np.clip(flat.astype(int) + rng.integers(-30, 30, (16, 24, 1)) + [-60, 90, 70], 0, 255)
    pairs = [(cast.astype(np.uint8), photo), (pattern.astype(np.uint8), flat), (photo, photo)]
    any_block = colour.ColourCorrection((3, -2, 1, 0, -128, 127, 5, 5, -5), (-32768, 32767, 100)).to_bytes()
    jobs = [{"decoded": b64(d.tobytes()), "original": b64(o.tobytes()), "block": b64(any_block)} for d, o in pairs]
    out = run_js(tmp_path, {"colour": jobs})["colour"]
    for (decoded, original), js in zip(pairs, out, strict=True):
        fitted = colour.fit(decoded, original)
        assert js["fitted"] == (fitted and b64(fitted.to_bytes()))
        applied = colour.ColourCorrection.from_bytes(any_block).apply(decoded)
        assert js["applied"] == b64(applied.tobytes())
    assert out[0]["fitted"] is not None and out[1]["fitted"] is not None and out[2]["fitted"] is None


def _plain_and_smooth_manifests(bundle) -> tuple[dict, dict]:  # noqa: ANN001
    """The bundle's manifest, and the same with ``smooth_upsampling`` on (same model id)."""
    manifest = json.loads((bundle.root / "manifest.json").read_text())
    return manifest, {**manifest, "config": {**manifest["config"], "smooth_upsampling": True}}


def test_the_page_tiles_with_the_python_readers_halo(tmp_path, default_bundle):
    """The page's tiles must be the Python reader's, halo included, for a plain and a smooth-upsampling
    decoder (whose filters reach a cell further), or tiled decodes would differ between the two."""
    from dataclasses import replace

    from compact.config import ModelConfig
    from compact.tiling import TileGrid

    manifest, smooth = _plain_and_smooth_manifests(default_bundle)
    grids = run_js(tmp_path, {"manifests": [json.dumps(manifest), json.dumps(smooth)]})["grids"]
    plain_config = default_bundle.manifest.config
    expected = [TileGrid.for_model(plain_config), TileGrid.for_model(replace(plain_config, smooth_upsampling=True))]
    assert grids == [{"core": g.core, "halo": g.halo} for g in expected]
    assert [g["halo"] for g in grids] == [4, 5]
    assert ModelConfig.from_dict(smooth["config"]).smooth_upsampling  # the key the page reads is the one saved


def test_the_pages_decoder_uses_its_models_halo_by_default(tmp_path, default_bundle):
    """A 1,040-px-wide stream is 65 cells: forced tiles of 64 give a second tile of 1 cell plus the halo,
    so the network sees 5 cells wide for the plain manifest and 6 for a smooth one (same model id)."""
    from compact.codec import Codec

    codec = Codec("default", "onnx", entropy_coding=False, colour_correction=False)
    stream = codec.compress(np.full((16, 1040, 3), 128, np.uint8))
    manifest, smooth = _plain_and_smooth_manifests(default_bundle)
    jobs = [{"manifest": json.dumps(m), "stream": b64(stream)} for m in (manifest, smooth)]
    tiles = run_js(tmp_path, {"tiling": jobs})["tiles"]
    assert tiles == [[[1, 65], [1, 5]], [[1, 65], [1, 6]]]


def test_the_page_decodes_streams_of_a_table_its_model_kept(tmp_path, default_bundle):
    """A model folder keeps the context tables it replaced (roles ``earlier_context_<id>``); the page reads a
    stream coded with one of them to the same code as Python, and without it names the missing table."""
    from conftest import natural_image

    from compact import roles
    from compact.codec import Codec

    codec = Codec("default", "onnx", colour_correction=False)
    # a 16-channel table (enough for quality 2) fitted on this model's codes, so coding pays
    kept = entropy.ContextModel.fit([codec.encode_bits(natural_image(256, 256, seed=s))[:16] for s in (4, 5, 6)])
    kept_text, current_text = kept.to_json(), (FIXTURES / "context-v2.json").read_text()
    codec.context = kept
    stream = codec.compress(natural_image(192, 256, seed=3), quality=2)
    assert container.read_header(stream).context_id == kept.context_id_bytes
    header, payload, _ = container.read(stream)
    code = entropy.decode(payload, header.latent_shape, kept)
    padded = np.zeros((default_bundle.manifest.config.latent_channels, *code.shape[1:]), np.uint8)
    padded[: code.shape[0]] = code
    manifest = json.loads((default_bundle.root / "manifest.json").read_text())
    files = {r: f for r, f in manifest["files"].items() if not r.startswith(roles.EARLIER_CONTEXT)}
    manifest = {**manifest, "files": files}
    role = roles.earlier_context(kept.context_id)
    with_kept = {**manifest, "files": {**files, role: "kept.json"}}
    files = {"context": current_text, role: kept_text}
    jobs = [{"manifest": json.dumps(m), "files": files, "stream": b64(stream)} for m in (with_kept, manifest)]
    found, control = run_js(tmp_path, {"codes": jobs})["codes"]
    assert found == b64(padded.tobytes())
    assert control.startswith(f"ModelMismatchError: stream was entropy-coded with context model {kept.context_id}")


def _degrid_inputs() -> list[np.ndarray]:
    """Sixteenths of a level: smooth pictures with a sub-level grid (the filter acts), a textured one (it does
    not), random values, and sizes around its margin and its bands (300 rows: two bands)."""
    from compact.evaluation.grid import smooth_picture

    rng = np.random.default_rng(7)
    pictures = []
    for size, seed in ((96, 1), (300, 2)):
        img = smooth_picture(size, seed).astype(np.int64) * 16
        y, x = np.mgrid[0:size, 0:size]
        pattern = 6 * (np.cos(np.pi * x / 2) + np.cos(np.pi * y / 4)) + rng.normal(0, 2, (size, size))
        img += np.rint(pattern).astype(np.int64)[..., None]
        pictures.append(img[: size - 7, : size - 30])
    y, x = np.mgrid[0:150, 0:90]  # a pattern between faint and strong on a flat picture: the filter half acts
    pictures.append(np.rint(1920 + 96 * np.cos(np.pi * x / 8) * np.cos(np.pi * y / 8)).astype(np.int64)[..., None]
                    .repeat(3, axis=2))  # fmt: skip
    pictures += [rng.integers(0, 4081, shape + (3,)) for shape in ((1, 1), (5, 70), (64, 33))]
    return [np.clip(p, 0, 4080).astype(np.uint16) for p in pictures]


def test_the_pages_grid_filter_gives_the_python_readers_bytes(tmp_path):
    from compact.degrid import degrid

    pictures = _degrid_inputs()
    jobs = [{"width": p.shape[1], "height": p.shape[0], "fine": b64(p.astype("<u2").tobytes())} for p in pictures]
    got = run_js(tmp_path, {"degrid": jobs})["degrid"]
    for picture, page in zip(pictures, got, strict=True):
        expected = degrid(picture)
        assert base64.b64decode(page) == expected.tobytes()
    assert not np.array_equal(degrid(pictures[0]), np.rint(pictures[0] / 16))  # it did filter something


@pytest.mark.parametrize("filtered", [True, False], ids=["degrid", "no-degrid"])
def test_the_page_draws_a_decoders_picture_as_the_python_reader(tmp_path, default_bundle, filtered):
    """The page writes the network's picture through the filter (in sixteenths) exactly when the manifest asks."""
    from compact.codec import Codec
    from compact.degrid import degrid
    from compact.evaluation.grid import smooth_picture
    from compact.geometry import padded_size, to_pixels, to_sixteenths

    manifest = json.loads((default_bundle.root / "manifest.json").read_text())
    assert manifest["degrid"]
    manifest["degrid"] = filtered
    height, width = 70, 90
    writer = Codec(default_bundle, "onnx", entropy_coding=False, colour_correction=False)
    stream = writer.compress(smooth_picture(96)[:height, :width])
    hp, wp = padded_size(height, width)
    picture = (smooth_picture(96, seed=3)[:hp, :wp].transpose(2, 0, 1) / 255.0).astype(np.float32)
    picture += np.float32(0.002) * np.cos(np.pi * np.arange(wp, dtype=np.float32) / 4)  # a grid to remove
    job = {"manifest": json.dumps(manifest), "stream": b64(stream), "picture": b64(picture.tobytes())}
    page = base64.b64decode(run_js(tmp_path, {"drawn": [job]})["drawn"][0])
    drawn = picture[:, :height, :width]
    expected = degrid(to_sixteenths(drawn)) if filtered else to_pixels(drawn)
    assert page == expected.tobytes()
