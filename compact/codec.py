"""The Python API: images to COMPACT bytes and back, on any runtime backend."""

from __future__ import annotations

import importlib.util
import os
import time
from dataclasses import replace

import numpy as np
from PIL import Image

from compact import bits, colour, container, degrid, entropy, roles
from compact.errors import ConfigError, ImageError, MissingExtraError, ModelError, ModelMismatchError
from compact.geometry import to_model_input, to_pixels, to_sixteenths
from compact.manifest import ModelBundle, installed_model_dir, resolve_model
from compact.picture import (
    DEFAULT_MAX_PIXELS,
    Picture,
    decode_alpha,
    encode_alpha,
    frame_note,
    load_picture,
    to_picture,
)
from compact.runtimes import Backend, get_backend
from compact.tiling import TileGrid, decode_tiled, encode_tiled, needs_tiling

ImageLike = str | os.PathLike[str] | Image.Image | np.ndarray


def as_picture(image: ImageLike | Picture, max_pixels: int | None = DEFAULT_MAX_PIXELS, frame: int = 0) -> Picture:
    """A path, PIL image, HxWx3 (RGB) or HxWx4 (RGBA) uint8 array -> Picture."""
    if isinstance(image, Picture):
        return image
    if isinstance(image, np.ndarray):
        if image.ndim != 3 or image.shape[2] not in (3, 4) or image.dtype != np.uint8 or 0 in image.shape:
            raise ImageError(f"expected an HxWx3 or HxWx4 uint8 array, got {image.dtype} {image.shape}")
        if image.shape[2] == 4:
            return Picture(np.ascontiguousarray(image[..., :3]), np.ascontiguousarray(image[..., 3]))
        return Picture(image)
    if isinstance(image, Image.Image):
        return to_picture(image)
    return load_picture(image, max_pixels, frame)


def as_rgb(image: ImageLike) -> np.ndarray:
    return as_picture(image).rgb


class Codec:
    """Holds one model and one backend session, so many images reuse the loaded networks."""

    def __init__(self, model: str | os.PathLike[str] | ModelBundle | None = None, backend: str = "auto",
                 entropy_coding: bool = True, max_pixels: int | None = DEFAULT_MAX_PIXELS,
                 threads: int | None = None, quality: int | None = None, frame: int = 0,
                 colour_correction: bool = True, refine: int = 0, degrid: bool = True):  # fmt: skip
        self.bundle = model if isinstance(model, ModelBundle) else resolve_model(model)
        self.backend: Backend = get_backend(backend, self.bundle, threads=threads)
        #: streams naming an earlier default model that ships with the package decode with it, unless a model
        #: was chosen: codecs of those models, made on first use, on the same backend
        self._follows_default = model is None or (not isinstance(model, ModelBundle) and str(model) == "default")
        self._earlier: dict[str, Codec] = {}
        self._backend_name, self._threads = backend, threads
        #: milliseconds per stage of the last compress (encode, entropy_encode) or decompress (entropy_decode,
        #: decode: networks, and the grid filter when the model asks for it); each call starts it afresh, so
        #: no figure outlives the call that made it
        self.timings: dict[str, float] = {}
        #: the model's context model, used to write version 2 streams and needed to read them
        self.context = self._load_context()
        #: context models this folder kept from before its current one, by id: they only read old streams
        self.earlier_contexts = self._load_earlier_contexts()
        self.entropy_coding = entropy_coding
        #: compress also decodes, fits a colour correction to the original and stores it (colour.py): better
        #: colours for a decode's worth of extra time; False writes streams without it
        self.colour_correction = colour_correction
        self.max_pixels = max_pixels
        #: which frame of an animation or page of a multi-page file :meth:`compress` codes (0: the first)
        self.frame = frame
        #: one-line remarks about the last compress, e.g. that only one frame of an animation was coded
        self.notes: list[str] = []
        #: large images go through the networks in these tiles (exact: the halo covers the receptive field)
        self.tiles = TileGrid.for_model(self.bundle.manifest.config)
        #: quality used when :meth:`compress` is not given one (None: the model's default)
        self.quality = quality
        self.channels_for(quality)  # fail now, not at the first image
        #: compress searches this many steps for a code the decoder draws better (training/refine.py; needs
        #: torch); 0 codes the encoder's signs as they are
        self.refine = refine
        self._refiner = self._load_refiner() if refine else None
        #: run the decode-side grid filter (compact/degrid.py) on what the decoder draws, when the model's
        #: manifest asks for it; False gives the networks' own picture (to study them, not to view)
        self.degrid = degrid

    def channels_for(self, quality: int | None) -> int:
        """Code channels sent at ``quality``; raises QualityError for a level the model lacks."""
        return self.bundle.manifest.config.channels_for(quality)

    def _load_refiner(self):  # -> compact.training.refine.Refiner, which imports torch
        from compact.runtimes.torch_backend import unavailable_reason

        if self.refine < 0:
            raise ConfigError(f"refinement steps must be 0 (off) or more, got {self.refine}")
        reason = unavailable_reason()
        if reason is None and importlib.util.find_spec("pytorch_msssim") is None:
            reason = 'it scores MS-SSIM with pytorch-msssim: pip install "compact[train]"'
        if reason is not None:
            raise MissingExtraError(f"refinement runs the decoder backwards in torch: {reason}")
        from compact.training.refine import RefineConfig, Refiner

        return Refiner(self.bundle.file(roles.WEIGHTS), self.context, RefineConfig(steps=self.refine),
                       threads=self._threads)  # fmt: skip

    def _load_context(self) -> entropy.ContextModel | None:
        if roles.CONTEXT not in self.bundle.manifest.files:
            return None
        return entropy.ContextModel.from_json(self.bundle.file(roles.CONTEXT).read_text())

    def _load_earlier_contexts(self) -> dict[str, entropy.ContextModel]:
        found = {}
        for role in roles.earlier_contexts(self.bundle.manifest.files):
            model = entropy.ContextModel.from_json(self.bundle.file(role).read_text())
            if roles.earlier_context(model.context_id) != role:
                raise ModelError(f"{self.bundle.root}: {role} holds context model {model.context_id}")
            found[model.context_id] = model
        return found

    def _context_of(self, context_id: bytes) -> entropy.ContextModel | None:
        """The table a version 2 stream names: the current one or one kept from before it."""
        if self.context is not None and context_id == self.context.context_id_bytes:
            return self.context
        return self.earlier_contexts.get(context_id.hex())

    @property
    def model_id(self) -> str:
        return self.bundle.manifest.model_id

    def encode_bits(self, rgb: np.ndarray) -> np.ndarray:
        """HxWx3 uint8 -> the (C, h, w) binary code as {0, 1} uint8."""
        return bits.binarize(self._latent(rgb)[0])

    def _latent(self, rgb: np.ndarray) -> np.ndarray:
        """HxWx3 uint8 -> the encoder's (1, C, h, w) latent, tiled when the picture is large; timed."""
        height, width = rgb.shape[:2]
        if max(width, height) > container.MAX_SIDE:
            raise ImageError(f"{width}x{height} exceeds the format's limit of {container.MAX_SIDE} px per side")
        t0 = time.perf_counter()
        if needs_tiling(height, width):
            channels = self.bundle.manifest.config.latent_channels
            latent = encode_tiled(rgb, self.backend.encode, channels, self.tiles)
        else:
            latent = self.backend.encode(to_model_input(rgb))
        self.timings["encode"] = (time.perf_counter() - t0) * 1e3
        return latent

    def _refined_bits(self, rgb: np.ndarray, sent: int) -> np.ndarray:
        """HxWx3 uint8 -> the refined (sent, h, w) code: the encoder's latent, then the search (tile by tile
        where the networks would tile the picture)."""
        height, width = rgb.shape[:2]
        latent = self._latent(rgb)
        t0 = time.perf_counter()
        if needs_tiling(height, width):
            code = self._refiner.refine_tiled(rgb, latent, sent, self.tiles)
        else:
            code = self._refiner.refine(to_model_input(rgb), latent, sent, height, width)
        self.timings["refine"] = (time.perf_counter() - t0) * 1e3
        return code

    @property
    def qualities(self) -> int:
        """How many quality levels the model offers (1..qualities)."""
        return self.bundle.manifest.config.qualities

    def compress(self, image: ImageLike | Picture, quality: int | None = None) -> bytes:
        """Version 2 (entropy-coded) when the model has a context model and it saves bytes, else version 1.

        ``quality`` (1..:attr:`qualities`; default :attr:`quality`, else the model's default) picks how
        many leading code channels are sent; the header's channel count records it. Alpha is stored
        losslessly and the ICC profile verbatim, in extension blocks.
        """
        self.timings, self.notes = {}, []
        sent = self.channels_for(quality if quality is not None else self.quality)
        picture = as_picture(image, self.max_pixels, self.frame)
        note = frame_note(image, picture)
        if note is not None:
            self.notes.append(note)
        rgb = picture.rgb
        code = self._refined_bits(rgb, sent) if self._refiner is not None else self.encode_bits(rgb)[:sent]
        header = container.Header(
            model_id=self.bundle.manifest.model_id_bytes,
            width=rgb.shape[1],
            height=rgb.shape[0],
            channels=code.shape[0],
            latent_height=code.shape[1],
            latent_width=code.shape[2],
            payload_size=bits.packed_size(code.shape),
        )
        payload = bits.pack(code)
        if self.entropy_coding and self.context is not None:
            t0 = time.perf_counter()
            coded = entropy.encode(code, self.context)
            self.timings["entropy_encode"] = (time.perf_counter() - t0) * 1e3
            if len(coded) < len(payload):
                header = replace(header, version=container.ENTROPY_CODED, payload_size=len(coded),
                                 context_id=self.context.context_id_bytes)  # fmt: skip
                payload = coded
        alpha = encode_alpha(picture.alpha) if picture.alpha is not None else None
        correction = self._fit_colour(code, rgb) if self.colour_correction else None
        return container.write(header, payload, container.Extensions(alpha, picture.icc, correction))

    def _fit_colour(self, code: np.ndarray, rgb: np.ndarray) -> bytes | None:
        """The colour block for ``rgb`` coded as ``code``: decode as a reader will, fit, serialize."""
        t0 = time.perf_counter()
        fitted = colour.fit(self._decode_rgb(self.decoder_input(code), rgb.shape[1], rgb.shape[0]), rgb)
        self.timings["colour_fit"] = (time.perf_counter() - t0) * 1e3
        return fitted.to_bytes() if fitted is not None else None

    def _decode_rgb(self, symbols: np.ndarray, width: int, height: int) -> np.ndarray:
        """(1, C, h, w) decoder input -> HxWx3 uint8 as the network draws it, whole or in tiles, then through
        the grid filter when the model asks for it."""
        filtered = self.degrid and self.bundle.manifest.degrid
        pixels = to_sixteenths if filtered else to_pixels  # the filter reads sixteenths of a level (degrid.UNIT)
        if needs_tiling(height, width):
            drawn = decode_tiled(symbols, self.backend.decode, width, height, self.tiles, pixels)
        else:
            drawn = pixels(self.backend.decode(symbols)[0, :, :height, :width])
        return degrid.degrid(drawn) if filtered else drawn

    def decode_bits(self, data: bytes) -> tuple[container.Header, np.ndarray, container.Extensions]:
        """Parse and check a stream; return its header, (C, h, w) code and extension blocks."""
        self.timings = {}
        header, payload, extensions = container.read(data)
        if self.max_pixels is not None and header.width * header.height > self.max_pixels:
            raise ImageError(
                f"stream declares {header.width}x{header.height} pixels, over the limit of {self.max_pixels} "
                "(raise it with --max-pixels)"
            )
        if header.model_id != self.bundle.manifest.model_id_bytes:
            hint = (f" (an earlier default that ships with COMPACT: --model {header.model_id_hex})"
                    if installed_model_dir(header.model_id_hex) else "")  # fmt: skip
            raise ModelMismatchError(
                f"stream was made by model {header.model_id_hex}, but the loaded model is {self.model_id}{hint}"
            )
        config = self.bundle.manifest.config
        if config.quality_of(header.channels) is None:
            raise ModelMismatchError(
                f"stream has {header.channels} latent channels, the model's levels are {list(config.levels)}"
            )
        if header.version == container.RAW:
            return header, bits.unpack(payload, header.latent_shape), extensions
        context = self._context_of(header.context_id)
        if context is None:
            have = self.context.context_id if self.context else "none"
            raise ModelMismatchError(
                f"stream was entropy-coded with context model {header.context_id.hex()}, this model has {have}"
            )
        t0 = time.perf_counter()
        code = entropy.decode(payload, header.latent_shape, context)
        self.timings["entropy_decode"] = (time.perf_counter() - t0) * 1e3
        return header, code, extensions

    def decoder_input(self, code: np.ndarray) -> np.ndarray:
        """(C', h, w) {0,1} code -> (1, C, h, w) ±1 floats; a lower quality level's unsent channels are 0,
        as the decoder saw them in training."""
        symbols = bits.bits_to_symbols(code)[None]
        unsent = self.bundle.manifest.config.latent_channels - code.shape[0]
        if unsent:
            symbols = np.concatenate([symbols, np.zeros((1, unsent, *code.shape[1:]), symbols.dtype)], axis=1)
        return symbols

    def _codec_for(self, data: bytes) -> Codec:
        """This codec, or the codec of the earlier default model that made the stream (see ``_earlier``)."""
        if not self._follows_default:
            return self
        model = container.read_header(data).model_id_hex
        folder = installed_model_dir(model) if model != self.model_id else None
        if folder is None:
            return self
        if model not in self._earlier:
            self._earlier[model] = Codec(folder, self._backend_name, self.entropy_coding, self.max_pixels,
                                         self._threads, frame=self.frame, degrid=self.degrid)  # fmt: skip
        return self._earlier[model]

    def decompress_picture(self, data: bytes) -> Picture:
        codec = self._codec_for(data)
        if codec is not self:
            picture = codec.decompress_picture(data)
            self.timings = codec.timings
            return picture
        header, code, extensions = self.decode_bits(data)
        alpha = decode_alpha(extensions.alpha, header.width, header.height) if extensions.alpha is not None else None
        correction = colour.ColourCorrection.from_bytes(extensions.colour) if extensions.colour is not None else None
        t0 = time.perf_counter()
        rgb = self._decode_rgb(self.decoder_input(code), header.width, header.height)
        self.timings["decode"] = (time.perf_counter() - t0) * 1e3
        return Picture(correction.apply(rgb) if correction is not None else rgb, alpha, extensions.icc)

    def decompress_array(self, data: bytes) -> np.ndarray:
        """The decoded RGB only (HxWx3 uint8)."""
        return self.decompress_picture(data).rgb

    def decompress(self, data: bytes) -> Image.Image:
        """A PIL image: RGB, or RGBA when the stream carries alpha; ``info["icc_profile"]`` when it has one."""
        return self.decompress_picture(data).to_pil()


def compress(image: ImageLike, model: str | None = None, backend: str = "auto", quality: int | None = None) -> bytes:
    """One-shot compression; use :class:`Codec` to reuse sessions across images."""
    return Codec(model, backend).compress(image, quality)


def decompress(data: bytes, model: str | None = None, backend: str = "auto") -> Image.Image:
    return Codec(model, backend).decompress(data)
