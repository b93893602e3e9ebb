"""``compact web``'s server: a fixed table of static files on 127.0.0.1, and a clear error before the build step."""

from __future__ import annotations

import urllib.error
import urllib.request

import pytest
from typer.testing import CliRunner

from compact.cli import app
from compact.web import ORT_ENTRY, ORT_ENV, start


@pytest.fixture
def fake_dist(tmp_path, monkeypatch):
    """Stand-in onnxruntime-web files, so these tests need no npm."""
    (tmp_path / ORT_ENTRY).write_text("export const env = {};\n")
    (tmp_path / "ort-wasm-simd-threaded.jsep.wasm").write_bytes(b"\0asm")
    (tmp_path / "README.md").write_text("not served")
    monkeypatch.setenv(ORT_ENV, str(tmp_path))
    return tmp_path


def get(url: str) -> tuple[int, dict[str, str], bytes]:
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, dict(exc.headers), b""


def test_serves_the_page_the_model_and_the_runtime_only(fake_dist):
    server, url = start()
    try:
        assert url.startswith("http://127.0.0.1:")
        status, headers, body = get(url)
        assert status == 200 and headers["Content-Type"].startswith("text/html") and b"app.js" in body
        assert headers["Cross-Origin-Opener-Policy"] == "same-origin"  # WebAssembly threads need isolation
        assert get(url + "lib/codec.js")[1]["Content-Type"].startswith("text/javascript")
        assert get(url + "ort/ort-wasm-simd-threaded.jsep.wasm")[1]["Content-Type"] == "application/wasm"
        assert b'"model_id"' in get(url + "model/manifest.json")[2]
        assert get(url + "model/decoder.onnx")[0] == 200
        for path in ("model/weights.safetensors", "ort/README.md", "../pyproject.toml", "lib/../app.js", "x"):
            assert get(url + path)[0] == 404, path
    finally:
        server.shutdown()
        server.server_close()


def test_cli_names_the_build_step_when_onnxruntime_web_is_missing(tmp_path, monkeypatch):
    monkeypatch.setenv(ORT_ENV, str(tmp_path))
    result = CliRunner().invoke(app, ["web", "--port", "0"])
    assert result.exit_code == 1
    assert "onnxruntime-web is not installed" in result.output and "build.sh" in result.output
