"""The browser runtime's command: compact web."""

from __future__ import annotations

from typing import Annotated

import typer

from compact.cli.common import ModelOpt, handles_errors

app = typer.Typer()


@app.command()
@handles_errors
def web(
    port: Annotated[int, typer.Option("--port", "-p", help="Port on 127.0.0.1.")] = 8765,
    model: ModelOpt = "default",
) -> None:
    """Serve a page that decodes .cpt files (and compresses images) in the browser, with onnxruntime-web.

    Needs the build step once: compact/runtimes/web/build.sh (npm ci). Example: compact web --port 8765
    """
    from compact.web import serve

    serve(port, model)
