"""The image formats labeler accepts, and the file name extensions they go by.

Free of Django: the command-line client's import of a folder (``labeler.imports.reading.sources``)
takes its images by these extensions, where Django is not set up.
"""

from __future__ import annotations

ALLOWED_FORMATS = {
    "JPEG": "jpg",
    "MPO": "jpg",
    "PNG": "png",
    "GIF": "gif",
    "BMP": "bmp",
    "TIFF": "tif",
    "WEBP": "webp",
    "HEIF": "heic",  # HEIC and HEIF photos, read through pillow-heif
    "AVIF": "avif",
}
# The formats dataset readers skip (torchvision's ImageFolder lists neither ``.heic``,
# ``.avif`` nor ``.gif``), and the format each is converted to for them
# (``labeler.images.pixels.conversion``); every other format is kept as it is.
CONVERTED_FORMATS = {"HEIF": "JPEG", "AVIF": "JPEG", "GIF": "PNG"}
# Other names files of these formats go by.
_EXTENSION_ALIASES = {"JPEG": ("jpeg",), "TIFF": ("tiff",), "HEIF": ("heif",)}


def image_extensions() -> frozenset[str]:
    """The file name extensions (".jpg", ".heic", ...) of every format the decoder
    accepts: what an import of a folder or an archive takes for an image."""
    names = set(ALLOWED_FORMATS.values())
    for aliases in _EXTENSION_ALIASES.values():
        names.update(aliases)
    return frozenset(f".{name}" for name in names)
