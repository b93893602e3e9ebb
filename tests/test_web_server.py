"""``compact web``'s server: a fixed table of static files on 127.0.0.1, and a clear error before the build step."""

from __future__ import annotations

import os
import urllib.error
import urllib.request

import pytest
from typer.testing import CliRunner

import compact.web
from compact.cli import app
from compact.manifest import resolve_model
from compact.web import CACHE_ENV, ORT_ENTRY, ORT_ENV, start


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
        # every context table the manifest lists: the page loads the kept ones too, for old streams
        files = resolve_model(None).manifest.files
        kept = [rel for role, rel in files.items() if role.startswith("earlier_context_")]
        assert kept, "the default model keeps its first context table"
        for rel in (files["context"], *kept):
            assert get(url + "model/" + rel)[0] == 200, rel
        for path in ("model/weights.safetensors", "ort/README.md", "../pyproject.toml", "lib/../app.js", "x"):
            assert get(url + path)[0] == 404, path
    finally:
        server.shutdown()
        server.server_close()


def test_cli_names_the_build_step_when_onnxruntime_web_is_missing(tmp_path, monkeypatch):
    monkeypatch.setenv(ORT_ENV, str(tmp_path))
    result = CliRunner().invoke(app, ["web", "--port", "0"])
    assert result.exit_code == 1
    assert "onnxruntime-web is not installed" in result.output and "compact web --build" in result.output


def test_build_installs_into_a_user_folder_that_serving_then_finds(tmp_path, monkeypatch):
    # A stand-in npm (the real one needs the registry): it does what `npm ci` does for this lock file.
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    npm = bin_dir / "npm"
    npm.write_text("#!/bin/sh\ntest -f package-lock.json || exit 3\nmkdir -p node_modules/onnxruntime-web/dist\n"
                   f"touch node_modules/onnxruntime-web/dist/{ORT_ENTRY}\n")  # fmt: skip
    npm.chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}:{os.environ['PATH']}")
    monkeypatch.delenv(ORT_ENV, raising=False)
    monkeypatch.setenv(CACHE_ENV, str(tmp_path / "cache"))
    result = CliRunner().invoke(app, ["web", "--build"])
    assert result.exit_code == 0, result.output
    dist = tmp_path / "cache" / "node_modules" / "onnxruntime-web" / "dist"
    assert str(dist) in result.output and (tmp_path / "cache" / "package-lock.json").is_file()
    if not (compact.web.WEB_DIR / "node_modules" / "onnxruntime-web" / "dist" / ORT_ENTRY).is_file():
        assert compact.web.ort_dist() == dist  # a checkout without its own build uses the user folder
