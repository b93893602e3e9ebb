"""COMPACT: a learned binary image codec, trained in PyTorch and run anywhere through ONNX or Core ML.

Importing this package never imports torch.
"""

from __future__ import annotations

from compact.codec import Codec, compress, decompress
from compact.errors import CompactError

__version__ = "0.1.0"
__all__ = ["Codec", "CompactError", "__version__", "compress", "decompress"]
