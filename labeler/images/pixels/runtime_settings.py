"""The pixels' process settings, read without importing Django.

Decoding (``decoding.py``), the upload checks (``files.py``) and the model-input cache
(``model_inputs.py``) also run in the worker's torch code (``worker/ml``), which imports
nothing of Django. They read the
settings they need here: in a Django process from ``django.conf.settings`` at each call
(``ImagesConfig.ready`` hands that reader over, so an overridden setting is seen at once),
anywhere else from the environment, with the defaults of ``labeler/settings.py``.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

Reader = Callable[[str], Any]

# Outside Django (a script using worker/ml alone) no model inputs are kept unless
# LABELER_INPUT_CACHE_DIR names a folder.
DEFAULTS: dict[str, int | str] = {
    "LABELER_MAX_IMAGE_BYTES": 50 * 1024 * 1024,
    "LABELER_MAX_IMAGE_PIXELS": 100_000_000,
    "LABELER_MAX_IMAGE_SIDE": 30_000,
    "LABELER_MAX_DECODE_BYTES": 256 * 1024 * 1024,
    "LABELER_DISPLAY_SIZE": 2048,
    "LABELER_INPUT_CACHE_DIR": "",
    "LABELER_INPUT_CACHE_MAX_SIZE": 224,
}


def _from_environment(name: str) -> Any:
    default = DEFAULTS[name]
    value = os.environ.get(name)
    if value is None or (value == "" and isinstance(default, int)):
        return default
    return int(value) if isinstance(default, int) else value


_reader: Reader = _from_environment


def settings_reader_set(reader: Reader) -> None:
    """Read the settings through ``reader`` (a setting's name in, its value out) from now on."""
    global _reader
    _reader = reader


def max_image_pixels() -> int:
    """LABELER_MAX_IMAGE_PIXELS: the most pixels an image may have."""
    return int(_reader("LABELER_MAX_IMAGE_PIXELS"))


def max_image_bytes() -> int:
    """LABELER_MAX_IMAGE_BYTES: the largest file an image may be, in bytes."""
    return int(_reader("LABELER_MAX_IMAGE_BYTES"))


def max_image_side() -> int:
    """LABELER_MAX_IMAGE_SIDE: the most pixels an image may have a side."""
    return int(_reader("LABELER_MAX_IMAGE_SIDE"))


def display_size() -> int:
    """LABELER_DISPLAY_SIZE: the display copy's longest side, in pixels."""
    return int(_reader("LABELER_DISPLAY_SIZE"))


def max_decode_bytes() -> int:
    """LABELER_MAX_DECODE_BYTES: the most memory one image's decoding may hold."""
    return int(_reader("LABELER_MAX_DECODE_BYTES"))


def input_cache_dir() -> str:
    """LABELER_INPUT_CACHE_DIR: the folder of kept model inputs ("": none kept)."""
    return str(_reader("LABELER_INPUT_CACHE_DIR") or "")


def input_cache_max_size() -> int:
    """LABELER_INPUT_CACHE_MAX_SIZE: the largest input kept, in pixels a side."""
    return int(_reader("LABELER_INPUT_CACHE_MAX_SIZE"))
