"""The browser runtime's command: compact web."""

from __future__ import annotations

from typing import Annotated

import typer

from compact.cli.common import ModelOpt, handles_errors

app = typer.Typer()


@app.command()
@handles_errors
def web(
    port: Annotated[int, typer.Option("--port", "-p", min=0, max=65535, help="Port on 127.0.0.1.")] = 8765,
    model: ModelOpt = "default",
    build: Annotated[
        bool, typer.Option("--build", help="Install the pinned onnxruntime-web with npm (once), then exit.")
    ] = False,
) -> None:
    """Serve a page that decodes .cpt files (and compresses images) in the browser, with onnxruntime-web.

    Needs the build step once: compact web --build (npm ci). Example: compact web --port 8765
    """
    from compact import web as runtime

    if build:
        typer.echo(f"onnxruntime-web installed in {runtime.build()}")
        return
    runtime.serve(port, model)
