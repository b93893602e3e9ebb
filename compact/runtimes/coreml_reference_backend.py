"""Core ML reference backend (any OS): the exported ML programs executed op by op in numpy.

Core ML cannot predict on Linux, so this backend stands in for it in parity checks: it runs the saved
.mlpackage programs with compact.export.mil_reference (float16 rounding after each op of an fp16 program)
behind the same shape fitting as the real Core ML backend. It needs coremltools (the ``export`` extra) to
read the programs; ``auto`` never picks it.
"""

from __future__ import annotations

import importlib.util

from compact.manifest import ModelBundle

NAME = "coreml-reference"


def unavailable_reason() -> str | None:
    if importlib.util.find_spec("coremltools") is None:
        return 'the coreml-reference backend needs coremltools: pip install "compact[export]"'
    return None


def create(bundle: ModelBundle):  # -> compact.export.mil_reference.MilReferenceBackend
    from compact.export.mil_reference import MilReferenceBackend

    return MilReferenceBackend(bundle)
