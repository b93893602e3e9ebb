"""Drive the ``compact web`` page in a headless Chromium (Playwright): hand it files, read its canvas back.

Used by the browser tests and benchmarks/web_screenshot.py. Playwright only drives the browser; the
browser itself is the system's Chromium (Debian's ``chromium`` package), never a downloaded one.
"""

from __future__ import annotations

import base64
import os
import shutil
from types import TracebackType
from typing import Any

import numpy as np

from compact.errors import MissingExtraError

#: Set to a Chromium binary to use instead of the one on PATH.
CHROMIUM_ENV = "COMPACT_CHROMIUM"
#: Chromium flags for WebGPU on the CPU (SwiftShader), so machines without a GPU can test the WebGPU path.
SOFTWARE_WEBGPU = ["--enable-unsafe-webgpu", "--use-webgpu-adapter=swiftshader"]

_PIXELS = """() => {
  const c = document.getElementById('view');
  const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
  let s = '';
  for (let i = 0; i < d.length; i += 0x8000) s += String.fromCharCode.apply(null, d.subarray(i, i + 0x8000));
  return [c.width, c.height, btoa(s)];
}"""
_RESULT = """() => {
  const r = {...window.compactResult};
  if (r.stream) r.stream = btoa(Array.from(r.stream, (b) => String.fromCharCode(b)).join(''));
  return r;
}"""


def chromium_path() -> str | None:
    """The system Chromium, or None."""
    return os.environ.get(CHROMIUM_ENV) or shutil.which("chromium") or shutil.which("chromium-browser")


class WebPage:
    """One page of the web decoder in a headless Chromium; use as a context manager."""

    def __init__(self, url: str, executable: str | None = None, timeout_s: float = 120.0,
                 args: list[str] | None = None) -> None:  # fmt: skip
        self.url = url
        self.executable = executable or chromium_path()
        self.args = args or []
        self.timeout_ms = timeout_s * 1000
        self.console: list[str] = []

    def __enter__(self) -> WebPage:
        try:
            from playwright.sync_api import sync_playwright
        except ImportError as exc:
            raise MissingExtraError('driving the page needs playwright: pip install "compact[dev]"') from exc
        if self.executable is None:
            raise MissingExtraError("no chromium on PATH (apt-get install chromium)")
        self._playwright = sync_playwright().start()
        try:
            chromium = self._playwright.chromium
            self._browser = chromium.launch(executable_path=self.executable, headless=True, args=self.args)
            self.page = self._browser.new_page(viewport={"width": 1000, "height": 900})
            self.page.set_default_timeout(self.timeout_ms)
            self.page.on("console", lambda m: self.console.append(f"{m.type}: {m.text}"))
            self.page.on("pageerror", lambda e: self.console.append(f"pageerror: {e}"))
            self.goto(self.url)
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self.close()

    def close(self) -> None:
        if getattr(self, "_browser", None) is not None:
            self._browser.close()
            self._browser = None
        if getattr(self, "_playwright", None) is not None:
            self._playwright.stop()
            self._playwright = None

    def goto(self, url: str) -> None:
        """Load the page (again, e.g. with other query options) and wait until the model is loaded or failed."""
        self.page.goto(url)
        self.page.wait_for_function("['ready', 'failed'].includes(document.body.dataset.state)")

    @property
    def state(self) -> str:
        return str(self.page.evaluate("document.body.dataset.state"))

    def open(self, name: str, data: bytes, mime: str = "application/octet-stream") -> dict[str, Any]:
        """Give the page a file, as a user picking it would; wait for the job and return window.compactResult."""
        seq = int(self.page.evaluate("document.body.dataset.seq"))
        self.page.set_input_files("#file", files=[{"name": name, "mimeType": mime, "buffer": data}])
        self.page.wait_for_function(f"Number(document.body.dataset.seq) > {seq}")
        result = self.page.evaluate(_RESULT)
        if result.get("stream"):
            result["stream"] = base64.b64decode(result["stream"])
        return result

    def pixels(self) -> np.ndarray:
        """The canvas as HxWx4 uint8 RGBA."""
        width, height, data = self.page.evaluate(_PIXELS)
        return np.frombuffer(base64.b64decode(data), np.uint8).reshape(height, width, 4)

    def visible(self, selector: str) -> bool:
        return bool(self.page.is_visible(selector))

    def text(self, selector: str) -> str:
        return str(self.page.inner_text(selector))

    def screenshot(self, path: str | os.PathLike[str]) -> None:
        self.page.screenshot(path=str(path), full_page=True)
