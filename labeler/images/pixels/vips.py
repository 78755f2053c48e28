"""Large PNG images shrunk by libvips while they are read, never held whole.

Pillow cannot decode a PNG at a reduced scale: a 10000 x 10000 RGBA PNG's
previews held 400 MB decoded, and more once converted. libvips (through pyvips) reads the
rows in sequence and shrinks them as they pass, so what it holds grows with the image's
width, not its area: measured up to about 1,700 decoded rows at a time (the loader's
strips, the vertical shrink's window), whatever the height.

Only ``labeler.images.pixels.decoding`` calls this module: it reads the header and checks the
pixel cap, the decoding cap (``vips_cost``) and, for an upload, the pixel data, before
any pixel gets here. libvips is set to keep no operation cache and to run one thread, so
what a decode holds is known from the header and released when it returns. Where pyvips
or libvips cannot be loaded, ``vips_available`` says so (logged once) and the decoder
decodes whole with Pillow, refusing above the cap as before.
"""

from __future__ import annotations

import functools
import logging
import os
from types import ModuleType

from PIL import Image as PILImage

logger = logging.getLogger(__name__)
# libvips reports every operation it plans at info level, through pyvips' logger.
logging.getLogger("pyvips").setLevel(logging.WARNING)

# Decoded rows libvips holds at once while it shrinks a streamed image (measured: about
# 1,700 for RGB at 5000 to 20000 pixels wide, to 256 or 2048 pixels).
ROWS_HELD = 2048
# The reduced image, held three times: libvips' output, its bytes, Pillow's image.
OUTPUT_COPIES = 3
# The loader for each format; only these are ever called (no sniffing of the bytes).
_LOADERS = {"PNG": "pngload_buffer"}
# Interpretations libvips turns into 8-bit sRGB as Pillow's convert("RGB") does.
_CONVERTIBLE = frozenset({"srgb", "b-w", "rgb16", "grey16"})


def _load_pyvips() -> tuple[ModuleType | None, str]:
    """pyvips configured for bounded, predictable memory, or None and why not."""
    try:
        import pyvips
    except (ImportError, OSError) as exc:  # no pyvips, or pyvips without libvips
        return None, str(exc)
    if not pyvips.at_least_libvips(8, 12):  # fail_on, which stops at a file's first error
        return None, f"libvips {pyvips.version(0)}.{pyvips.version(1)} is older than 8.12"
    pyvips.cache_set_max(0)  # no operation cache: nothing decoded outlives its call
    pyvips.cache_set_max_mem(0)
    pyvips.cache_set_max_files(0)
    pyvips.concurrency_set(1)  # one worker thread: one strip in flight, not one a core
    pyvips.block_untrusted_set(True)  # the loaders named here are all it may run
    return pyvips, ""


_pyvips, _missing = _load_pyvips()
_used = False  # whether this process has decoded with libvips yet


def _after_fork_in_child() -> None:
    """libvips keeps its worker threads once it has used them, and a forked child has
    none of them: a decode there waits for them forever. A child forked after libvips
    ran (not the usual case: Celery's and gunicorn's parents decode nothing) decodes with
    Pillow instead."""
    global _pyvips, _missing
    if _used:
        _pyvips, _missing = None, "it was used before this process was forked"
        vips_available.cache_clear()


os.register_at_fork(after_in_child=_after_fork_in_child)


@functools.cache
def vips_available() -> bool:
    """Whether libvips can shrink images here; logs once when it cannot."""
    if _pyvips is None:
        logger.warning(
            "libvips (pyvips) cannot be used (%s): large PNG images are decoded whole, and "
            "refused above LABELER_MAX_DECODE_BYTES.",
            _missing,
        )
    return _pyvips is not None


def vips_held(row_bytes: int) -> int:
    """What libvips holds of an image whose decoded rows take ``row_bytes`` each, while it
    streams and shrinks them (its output aside)."""
    return ROWS_HELD * row_bytes


def vips_cost(held: int, size: tuple[int, int]) -> int:
    """What ``vips_reduce`` holds for an image whose rows hold ``held`` (``vips_held``),
    shrunk to ``size``."""
    return held + OUTPUT_COPIES * 3 * size[0] * size[1]


def vips_reduce(
    data: bytes, *, fmt: str, source: tuple[int, int], size: tuple[int, int]
) -> PILImage.Image:
    """The image (first page) shrunk to exactly ``size``, as RGB: transparency dropped,
    grey and 16-bit samples made 8-bit RGB, as Pillow's ``convert("RGB")`` makes them.
    Not turned: its EXIF orientation is the caller's to apply.

    Raises OSError for data that is truncated or corrupt, or a frame of another size than
    ``source`` (the header the caller checked).
    """
    global _used
    assert _pyvips is not None
    _used = True
    try:
        image = getattr(_pyvips.Image, _LOADERS[fmt])(data, access="sequential", fail_on="error")
        if (image.width, image.height) != source:
            raise OSError(
                f"the {fmt} header says {source[0]}x{source[1]} pixels but its data holds "
                f"{image.width}x{image.height}"
            )
        if image.interpretation not in _CONVERTIBLE:
            raise OSError(f"{image.interpretation} {fmt} images are not supported")
        if image.hasalpha():
            image = image.extract_band(0, n=image.bands - 1)
        image = image.colourspace("srgb")
        image = image.resize(size[0] / source[0], vscale=size[1] / source[1], kernel="cubic")
        pixels = image.write_to_memory()
    except _pyvips.Error as exc:
        reason = "; ".join(line.strip() for line in str(exc).splitlines() if line.strip())
        raise OSError(f"broken {fmt} data: {reason or 'unreadable'}") from exc
    return PILImage.frombuffer("RGB", (image.width, image.height), pixels, "raw", "RGB", 0, 1)
