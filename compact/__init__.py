"""COMPACT: a learned binary image codec, trained in PyTorch and run anywhere through ONNX or Core ML.

Importing this package never imports torch.
"""

from __future__ import annotations

from compact.about import __version__
from compact.codec import Codec, compress, decompress
from compact.errors import CompactError
from compact.jobs import JobOptions, compress_files, decompress_files
from compact.parity import run_parity
from compact.spec import CodecSpec

__all__ = ["Codec", "CodecSpec", "CompactError", "JobOptions", "__version__", "compress", "compress_files",
           "decompress", "decompress_files", "run_parity"]  # fmt: skip
