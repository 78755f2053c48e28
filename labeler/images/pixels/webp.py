"""WebP files read without Pillow's decoder: the header parsed here, the pixels decoded by
libwebp at a reduced scale.

Pillow decodes a WebP through libwebp's animation decoder, which holds the full canvas
twice, then copies the frame twice more: about 16 bytes a pixel, 1.6 GB for an image at
the pixel cap. libwebp itself can scale while it decodes (``use_scaling``), holding a
few rows of the source and the small output only, but Pillow does not expose that; so
the library Pillow already loaded is called here through ctypes (its decoder ABI,
``0x0209``, has been stable since libwebp 1.0). Where it cannot be reached (a Pillow
built without WebP, a library that refuses the ABI) ``webp_decode`` returns None and the
caller decodes with Pillow, at Pillow's cost.
"""

from __future__ import annotations

import ctypes
import functools
from dataclasses import dataclass

from PIL import Image as PILImage

_ABI_VERSION = 0x0209
_MODE_RGB = 0
# VP8StatusCode values, as the reason a file is refused.
_STATUS = {
    1: "out of memory",
    2: "invalid parameters",
    3: "the WebP bitstream is corrupt",
    4: "a WebP feature that is not supported",
    5: "decoding suspended",
    6: "decoding aborted",
    7: "the WebP data is truncated",
}


@dataclass(frozen=True)
class WebPHeader:
    """What a WebP file's RIFF chunks say, read without decoding anything."""

    width: int
    height: int
    lossless: bool
    alpha: bool
    animated: bool
    exif: bytes | None = None
    xmp: bytes | None = None


def webp_header(data: bytes) -> WebPHeader | None:
    """The header of a RIFF WebP file; None when the bytes are not one or it is unreadable.

    The size is the canvas's (VP8X) or the image's (VP8, VP8L). A chunk cut short is
    read as far as it goes: decoding reports the truncation.
    """
    if len(data) < 20 or data[:4] != b"RIFF" or data[8:12] != b"WEBP":
        return None
    chunks = list(_chunks(data))
    kind, first = chunks[0]
    size = _image_size(kind, first)
    if size is None:
        return None
    kinds = {kind for kind, _ in chunks}
    flags = first[0] if kind == b"VP8X" and first else 0
    payloads = dict(reversed(chunks))  # the first of each kind
    return WebPHeader(
        width=size[0],
        height=size[1],
        lossless=b"VP8L" in kinds,
        alpha=bool(flags & 0x10) or b"ALPH" in kinds or _vp8l_alpha(payloads.get(b"VP8L")),
        animated=bool(flags & 0x02) or b"ANMF" in kinds,
        exif=bytes(payloads[b"EXIF"]) if b"EXIF" in payloads else None,
        xmp=bytes(payloads[b"XMP "]) if b"XMP " in payloads else None,
    )


def _chunks(data: bytes) -> list[tuple[bytes, memoryview]]:
    view = memoryview(data)
    found = []
    position = 12
    while position + 8 <= len(data):
        kind = data[position : position + 4]
        length = int.from_bytes(data[position + 4 : position + 8], "little")
        found.append((kind, view[position + 8 : position + 8 + length]))
        position += 8 + length + (length & 1)  # chunks are padded to an even length
    return found or [(b"", view[0:0])]


def _image_size(kind: bytes, body: memoryview) -> tuple[int, int] | None:
    if kind == b"VP8X" and len(body) >= 10:
        width = int.from_bytes(body[4:7], "little") + 1
        return width, int.from_bytes(body[7:10], "little") + 1
    if kind == b"VP8L" and len(body) >= 5 and body[0] == 0x2F:
        bits = int.from_bytes(body[1:5], "little")
        return (bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1
    if kind == b"VP8 " and len(body) >= 10 and body[3:6] == b"\x9d\x01\x2a":
        width = int.from_bytes(body[6:8], "little") & 0x3FFF
        height = int.from_bytes(body[8:10], "little") & 0x3FFF
        return (width, height) if width and height else None
    return None


def _vp8l_alpha(body: memoryview | None) -> bool:
    return body is not None and len(body) >= 5 and bool(body[4] & 0x10)


def webp_decoder_available() -> bool:
    """Whether libwebp can be called here (else WebP files are decoded by Pillow)."""
    return _library() is not None


def webp_decode(data: bytes, size: tuple[int, int]) -> PILImage.Image | None:
    """The still image decoded straight to ``size`` (RGB, alpha dropped), holding the
    small output and a few source rows only; None where libwebp cannot be reached.

    Raises OSError for a file libwebp cannot decode, with its reason.
    """
    library = _library()
    if library is None:
        return None
    config = _Config()
    if not library.WebPInitDecoderConfigInternal(ctypes.byref(config), _ABI_VERSION):
        return None
    config.options.use_scaling = 1
    config.options.scaled_width, config.options.scaled_height = size
    config.output.colorspace = _MODE_RGB
    status = library.WebPDecode(data, len(data), ctypes.byref(config))
    try:
        if status:
            raise OSError(_STATUS.get(status, f"WebP decoder status {status}"))
        output = config.output
        pixels = ctypes.string_at(output.u.RGBA.rgba, output.u.RGBA.size)
        return PILImage.frombuffer(
            "RGB", (output.width, output.height), pixels, "raw", "RGB", output.u.RGBA.stride, 1
        )
    finally:
        library.WebPFreeDecBuffer(ctypes.byref(config.output))


@functools.cache
def _library() -> ctypes.CDLL | None:
    """libwebp, as Pillow's WebP module loaded it: the module's handle finds its symbols."""
    try:
        from PIL import _webp

        library = ctypes.CDLL(_webp.__file__)
        decode = library.WebPDecode
        init = library.WebPInitDecoderConfigInternal
        free = library.WebPFreeDecBuffer
    except (ImportError, OSError, AttributeError):
        return None
    decode.argtypes = [ctypes.c_char_p, ctypes.c_size_t, ctypes.POINTER(_Config)]
    decode.restype = ctypes.c_int
    init.argtypes = [ctypes.POINTER(_Config), ctypes.c_int]
    init.restype = ctypes.c_int
    free.argtypes = [ctypes.POINTER(_DecBuffer)]
    free.restype = None
    return library


# libwebp's decode.h, decoder ABI 0x0209.
class _Features(ctypes.Structure):
    _fields_ = [
        ("width", ctypes.c_int),
        ("height", ctypes.c_int),
        ("has_alpha", ctypes.c_int),
        ("has_animation", ctypes.c_int),
        ("format", ctypes.c_int),
        ("pad", ctypes.c_uint32 * 5),
    ]


class _RGBABuffer(ctypes.Structure):
    _fields_ = [
        ("rgba", ctypes.c_void_p),
        ("stride", ctypes.c_int),
        ("size", ctypes.c_size_t),
    ]


class _YUVABuffer(ctypes.Structure):
    _fields_ = [
        *[(plane, ctypes.c_void_p) for plane in ("y", "u", "v", "a")],
        *[(stride, ctypes.c_int) for stride in ("y_stride", "u_stride", "v_stride", "a_stride")],
        *[(size, ctypes.c_size_t) for size in ("y_size", "u_size", "v_size", "a_size")],
    ]


class _Buffers(ctypes.Union):
    _fields_ = [("RGBA", _RGBABuffer), ("YUVA", _YUVABuffer)]


class _DecBuffer(ctypes.Structure):
    _fields_ = [
        ("colorspace", ctypes.c_int),
        ("width", ctypes.c_int),
        ("height", ctypes.c_int),
        ("is_external_memory", ctypes.c_int),
        ("u", _Buffers),
        ("pad", ctypes.c_uint32 * 4),
        ("private_memory", ctypes.c_void_p),
    ]


_OPTIONS = (
    "bypass_filtering", "no_fancy_upsampling", "use_cropping", "crop_left", "crop_top",
    "crop_width", "crop_height", "use_scaling", "scaled_width", "scaled_height", "use_threads",
    "dithering_strength", "flip", "alpha_dithering_strength",
)  # fmt: skip


class _Options(ctypes.Structure):
    _fields_ = [*[(name, ctypes.c_int) for name in _OPTIONS], ("pad", ctypes.c_uint32 * 5)]


class _Config(ctypes.Structure):
    _fields_ = [("input", _Features), ("output", _DecBuffer), ("options", _Options)]
