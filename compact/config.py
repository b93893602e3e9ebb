"""Model hyper-parameters shared by training, export and the runtimes."""

from __future__ import annotations

from dataclasses import asdict, dataclass

#: Total down-sampling factor of the encoder; images are padded to a multiple of it.
STRIDE = 16


@dataclass(frozen=True)
class ModelConfig:
    """Shape of a COMPACT auto-encoder.

    ``channels`` (N) is the width of the hidden layers, ``latent_channels`` (C) the number of
    binary planes in the code. C=16 at stride 16 gives the paper's 16/256 = 0.0625 bits per pixel.
    """

    channels: int = 64
    latent_channels: int = 16
    stride: int = STRIDE

    def __post_init__(self) -> None:
        if self.channels < 1 or self.latent_channels < 1:
            raise ValueError("channels and latent_channels must be positive")
        if self.stride != STRIDE:
            raise ValueError(f"only stride {STRIDE} is supported")

    @property
    def bits_per_pixel(self) -> float:
        return self.latent_channels / (self.stride * self.stride)

    def to_dict(self) -> dict[str, int]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, object]) -> ModelConfig:
        return cls(
            channels=int(data["channels"]),  # type: ignore[arg-type]
            latent_channels=int(data["latent_channels"]),  # type: ignore[arg-type]
            stride=int(data.get("stride", STRIDE)),  # type: ignore[arg-type]
        )
