"""The ``compact`` command line (typer): thin modules by audience over the library.

coding (compress, decompress, info, run) for people coding images; models (train, export, fit-context,
parity) for people making models; measure (bench, eval); web. Every failure ends in one ``error:`` line
on stderr and a non-zero exit.
"""

from __future__ import annotations

import typer

from compact.cli import coding, measure, models, web

app = typer.Typer(
    name="compact",
    help="COMPACT: a learned binary image codec (about 0.05 bits per pixel at its default quality).",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
for group in (coding, models, measure, web):
    app.registered_commands += group.app.registered_commands


def main() -> None:
    app(prog_name="compact")
