"""``compact web``: serve the browser decoder (compact/runtimes/web/) on 127.0.0.1.

The server only hands out static files: the page and its JavaScript, the model's manifest and the files it
lists, and the onnxruntime-web assets installed by the documented build step. Decoding and encoding run
in the browser; nothing is fetched from the internet.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import threading
from functools import partial
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from compact import roles
from compact.about import __version__
from compact.errors import CompactError, MissingExtraError
from compact.manifest import MANIFEST_NAME, ModelBundle, resolve_model

HOST = "127.0.0.1"
DEFAULT_PORT = 8765
WEB_DIR = Path(__file__).parent / "runtimes" / "web"
#: Set to a folder holding onnxruntime-web's dist files to use them instead of the build step's.
ORT_ENV = "COMPACT_ORT_DIST"
ORT_ENTRY = "ort.min.mjs"  # WebAssembly + WebGPU (JSEP) build; it loads ort-wasm-simd-threaded.jsep.*
#: Where ``compact web --build`` installs onnxruntime-web: a per-user folder, since an installed package's
#: own folder (site-packages) is often not writable.
CACHE_ENV = "COMPACT_WEB_CACHE"
BUILD_HINT = "run: compact web --build (npm ci of the pinned onnxruntime-web, once; offline afterwards)"
_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".mjs": "text/javascript; charset=utf-8",
    ".wasm": "application/wasm",
    ".json": "application/json",
    ".onnx": "application/octet-stream",
}


def build_dir() -> Path:
    """The folder ``compact web --build`` installs into: $COMPACT_WEB_CACHE, else the user's cache folder."""
    if os.environ.get(CACHE_ENV):
        return Path(os.environ[CACHE_ENV])
    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return cache / "compact" / f"web-{__version__}"


def ort_dist() -> Path:
    """Folder with onnxruntime-web's dist files, or MissingExtraError naming the build step.

    $COMPACT_ORT_DIST when set; else the build folder of a checkout (build.sh), then that of
    ``compact web --build``.
    """
    if os.environ.get(ORT_ENV):
        candidates = [Path(os.environ[ORT_ENV])]
    else:
        candidates = [root / "node_modules" / "onnxruntime-web" / "dist" for root in (WEB_DIR, build_dir())]
    for path in candidates:
        if (path / ORT_ENTRY).is_file():
            return path
    raise MissingExtraError(f"onnxruntime-web is not installed in {' or '.join(map(str, candidates))}: {BUILD_HINT}")


def build(target: Path | None = None) -> Path:
    """Install the pinned onnxruntime-web (the package's package-lock.json) with npm into ``target``
    (default :func:`build_dir`); returns its dist folder. Needs npm and the npm registry once."""
    target = target or build_dir()
    npm = shutil.which("npm")
    if npm is None:
        raise MissingExtraError("the browser runtime's build step needs npm (install Node.js 18 or newer)")
    target.mkdir(parents=True, exist_ok=True)
    for name in ("package.json", "package-lock.json"):
        shutil.copyfile(WEB_DIR / name, target / name)
    cmd = [npm, "ci", "--no-audit", "--no-fund", "--ignore-scripts", "--loglevel=error"]
    done = subprocess.run(cmd, cwd=target, capture_output=True, text=True)
    dist = target / "node_modules" / "onnxruntime-web" / "dist"
    if done.returncode != 0 or not (dist / ORT_ENTRY).is_file():
        lines = [line for line in (done.stderr or done.stdout).splitlines() if line.strip()]
        raise CompactError(f"npm ci failed in {target}: {lines[-1] if lines else f'no {ORT_ENTRY} installed'}")
    return dist


def _routes(bundle: ModelBundle, dist: Path) -> dict[str, Path]:
    """URL path -> file, fixed at start-up: nothing outside this table is ever served."""
    routes = {"/": WEB_DIR / "index.html", "/index.html": WEB_DIR / "index.html", "/app.js": WEB_DIR / "app.js"}
    routes |= {f"/lib/{p.name}": p for p in (WEB_DIR / "lib").glob("*.js")}
    routes |= {f"/ort/{p.name}": p for p in dist.iterdir() if p.is_file() and p.suffix in (".mjs", ".wasm")}
    routes[f"/model/{MANIFEST_NAME}"] = bundle.root / MANIFEST_NAME
    # the page needs no weights or Core ML files; it reads the tables kept for old streams too
    kept = roles.earlier_contexts(bundle.manifest.files)
    for role in (roles.CONTEXT, *kept, roles.ONNX_DECODER, roles.ONNX_ENCODER):
        rel = bundle.manifest.files.get(role)
        if rel:
            routes[f"/model/{rel}"] = bundle.root / rel
    return routes


class _Handler(BaseHTTPRequestHandler):
    def __init__(self, *args: object, routes: dict[str, Path], **kwargs: object) -> None:
        self.routes = routes
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]

    def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
        self._send(body=True)

    def do_HEAD(self) -> None:  # noqa: N802
        self._send(body=False)

    def _send(self, body: bool) -> None:
        path = self.routes.get(self.path.split("?", 1)[0])
        if path is None or not path.is_file():
            self.send_error(HTTPStatus.NOT_FOUND)
            return
        data = path.read_bytes()
        self.send_response(HTTPStatus.OK)
        self.send_header("Content-Type", _TYPES.get(path.suffix, "application/octet-stream"))
        self.send_header("Content-Length", str(len(data)))
        self.send_header("Cache-Control", "no-cache")
        # Cross-origin isolation lets onnxruntime-web use WebAssembly threads (SharedArrayBuffer).
        self.send_header("Cross-Origin-Opener-Policy", "same-origin")
        self.send_header("Cross-Origin-Embedder-Policy", "require-corp")
        self.send_header("Cross-Origin-Resource-Policy", "same-origin")
        self.end_headers()
        if body:
            self.wfile.write(data)

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002
        pass  # a page load is ~10 requests; the terminal shows the URL only


def make_server(port: int = DEFAULT_PORT, model: str | None = None) -> ThreadingHTTPServer:
    """A server bound to 127.0.0.1 (port 0 picks a free one); call serve_forever() or use start()."""
    bundle = resolve_model(model)
    server = ThreadingHTTPServer((HOST, port), partial(_Handler, routes=_routes(bundle, ort_dist())))
    server.daemon_threads = True
    server.model_id = bundle.manifest.model_id  # type: ignore[attr-defined]
    return server


def url(server: ThreadingHTTPServer) -> str:
    return f"http://{HOST}:{server.server_address[1]}/"


def start(port: int = 0, model: str | None = None) -> tuple[ThreadingHTTPServer, str]:
    """Serve in a background thread (tests, scripts); returns the server and its URL."""
    server = make_server(port, model)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, url(server)


def serve(port: int = DEFAULT_PORT, model: str | None = None) -> None:
    """Serve until interrupted (``compact web``)."""
    server = make_server(port, model)
    print(f"COMPACT in the browser (model {server.model_id}): {url(server)}  (Ctrl-C stops)", flush=True)  # type: ignore[attr-defined]
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
