"""Who made COMPACT and on what terms: the one source for the version, license and author everywhere
(package metadata, exported models' metadata, ``compact info --model``)."""

__version__ = "0.1.0"
LICENSE = "BSD-3-Clause"  # SPDX identifier; the text is LICENSE at the repository root
AUTHOR = "The COMPACT authors"
#: where the shipped weights' training data, terms and limits are written down
MODEL_CARD = "docs/MODEL_CARD.md in the COMPACT repository"
