"""Model hyper-parameters shared by training, export and the runtimes."""

from __future__ import annotations

from dataclasses import asdict, dataclass

from compact.errors import ConfigError, QualityError

#: Total down-sampling factor of the encoder; images are padded to a multiple of it.
STRIDE = 16
#: Hidden layers on each side: 6 convolutions (or up-convolutions) have 5 activations between them.
HIDDEN_LAYERS = 5


def _flag(value: object, name: str) -> bool:
    """A saved config's switch: only a JSON true or false (bool("false") would be True)."""
    if not isinstance(value, bool):
        raise ConfigError(f"{name} must be true or false, got {value!r}")
    return value


@dataclass(frozen=True)
class ModelConfig:
    """Shape of a COMPACT auto-encoder.

    ``channels`` (N) is the width of the hidden layers, ``latent_channels`` (C) the number of
    binary planes in the code. C=16 at stride 16 gives the paper's 16/256 = 0.0625 bits per pixel.
    """

    channels: int = 64
    latent_channels: int = 16
    stride: int = STRIDE
    #: Quality levels: how many leading code channels a stream sends (nested channel dropout trains the
    #: decoder to read any of these prefixes, with the unsent channels as 0). Empty means one level, C.
    levels: tuple[int, ...] = ()
    #: Widths of the encoder's 5 hidden layers (full to 1/16 resolution) and of the decoder's 5 hidden
    #: layers (1/16 resolution up); empty means ``channels`` everywhere (the original architecture).
    encoder_widths: tuple[int, ...] = ()
    decoder_widths: tuple[int, ...] = ()
    #: A fixed binomial low-pass after the decoder's inner pixel shuffles (1/8, 1/4 and 1/2 resolution): it
    #: zeroes the period-2 pattern each shuffle can leave there, which the full image shows as a grid of
    #: periods 16, 8 and 4 px. Not trained and not stored: weights load into either shape.
    smooth_upsampling: bool = False

    def __post_init__(self) -> None:
        if self.channels < 1 or self.latent_channels < 1:
            raise ConfigError("channels and latent_channels must be positive")
        for name in ("encoder_widths", "decoder_widths"):
            widths = tuple(getattr(self, name))
            if widths and (len(widths) != HIDDEN_LAYERS or min(widths) < 1):
                raise ConfigError(f"{name} must list {HIDDEN_LAYERS} positive widths, got {widths}")
            object.__setattr__(self, name, widths)
        if self.stride != STRIDE:
            raise ConfigError(f"only stride {STRIDE} is supported")
        levels = tuple(self.levels) or (self.latent_channels,)
        if list(levels) != sorted(set(levels)) or levels[0] < 1 or levels[-1] != self.latent_channels:
            raise ConfigError(f"levels must increase strictly and end at latent_channels, got {levels}")
        object.__setattr__(self, "levels", levels)

    @property
    def encoder_hidden(self) -> tuple[int, ...]:
        return self.encoder_widths or (self.channels,) * HIDDEN_LAYERS

    @property
    def decoder_hidden(self) -> tuple[int, ...]:
        return self.decoder_widths or (self.channels,) * HIDDEN_LAYERS

    @property
    def qualities(self) -> int:
        """Number of quality levels; quality q (1-based) sends ``levels[q - 1]`` channels."""
        return len(self.levels)

    def channels_for(self, quality: int | None) -> int:
        """Channels sent at ``quality`` (1..qualities); ``None`` means :attr:`default_quality`."""
        if quality is None:
            return self.levels[self.default_quality - 1]
        if not 1 <= quality <= len(self.levels):
            raise QualityError(f"quality must be 1..{len(self.levels)} for this model, got {quality}")
        return self.levels[quality - 1]

    @property
    def default_quality(self) -> int:
        """The paper's operating point (16 channels at stride 16) when the model has it, else the top."""
        return self.quality_of(16) or len(self.levels)

    def quality_of(self, channels: int) -> int | None:
        """The quality whose level is ``channels``, or None when no level sends that many."""
        return self.levels.index(channels) + 1 if channels in self.levels else None

    @property
    def bits_per_pixel(self) -> float:
        return self.latent_channels / (self.stride * self.stride)

    def to_dict(self) -> dict[str, object]:
        data = asdict(self)
        # A single-level model is written without the key, so its id and manifest stay as before levels.
        if self.levels == (self.latent_channels,):
            del data["levels"]
        else:
            data["levels"] = list(self.levels)
        # Likewise the widths: written only when set, so models of the original shape keep their ids.
        for name in ("encoder_widths", "decoder_widths"):
            if getattr(self, name):
                data[name] = list(getattr(self, name))
            else:
                del data[name]
        if not self.smooth_upsampling:
            del data["smooth_upsampling"]
        return data

    @classmethod
    def from_dict(cls, data: dict[str, object]) -> ModelConfig:
        return cls(
            channels=int(data["channels"]),  # type: ignore[arg-type]
            latent_channels=int(data["latent_channels"]),  # type: ignore[arg-type]
            stride=int(data.get("stride", STRIDE)),  # type: ignore[arg-type]
            levels=tuple(int(v) for v in data.get("levels", ())),  # type: ignore[attr-defined]
            encoder_widths=tuple(int(v) for v in data.get("encoder_widths", ())),  # type: ignore[attr-defined]
            decoder_widths=tuple(int(v) for v in data.get("decoder_widths", ())),  # type: ignore[attr-defined]
            smooth_upsampling=_flag(data.get("smooth_upsampling", False), "smooth_upsampling"),
        )
