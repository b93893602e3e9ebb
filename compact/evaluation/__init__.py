"""Rate-distortion evaluation of COMPACT against Pillow's codecs (``compact eval``; the ``eval`` extra)."""
