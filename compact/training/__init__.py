"""Torch side of COMPACT: the model, checkpoints and the training loop (needs the ``train`` extra)."""
