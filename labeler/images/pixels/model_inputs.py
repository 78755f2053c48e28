"""Images as a model takes them: decoded, squashed to a small square, kept by content.

Torch-free, so that the worker which makes an upload's thumbnail can make its model
inputs from the same decode of the file (``inputs_keep_decoded``), and pre-labelling on
the gpu queue reads those instead of decoding every new image again (a JPEG costs
several times a small model's forward pass to decode). ``worker.ml.data`` decodes with
``prepare_image``, as ``inputs_keep`` does for an input the previews' decode does not
cover: its pixels are those of the upload's inputs within a level or two (measured on
12-megapixel photos: 1.1 to 1.5 levels on average, 9 at most).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image as PILImage
from PIL.ExifTags import Base

from labeler.images.pixels.decoding import TURNS, image_decode, image_open, image_orientation
from labeler.images.pixels.input_shards import Place, Shelf, shard_folders, shelf
from labeler.images.pixels.runtime_settings import input_cache_dir, input_cache_max_size

_CACHE_KEY = re.compile(r"^[0-9a-f]{64}$")
# Part of every kept input's path: raise it when prepare_image changes its output, and
# inputs kept by the older code are no longer read.
_CACHE_FORMAT = 2  # 2: records in shards; 1 was a file per input
logger = logging.getLogger(__name__)

InputSpec = tuple[int, bool]  # (image_size, grayscale)


def prepare_bytes(content: bytes, *, image_size: int, grayscale: bool) -> np.ndarray:
    """An image file's bytes as ``prepare_image`` makes them, decoded by the one decoder
    (``labeler.images.pixels.decoding``: reduced where the format allows, refused above the cap).

    Raises OSError (DecodeRefused among them), SyntaxError, ValueError or EOFError for a
    file that cannot be decoded, or not within the cap.
    """
    mode = "L" if grayscale else "RGB"
    turn = TURNS.get(image_orientation(content))
    image = image_decode(content, mode=mode, box=(image_size, image_size))
    return _finished(image, image_size=image_size, mode=mode, turn=turn)


def prepare_image(image: PILImage.Image, *, image_size: int, grayscale: bool) -> np.ndarray:
    """One decoded PIL image as a uint8 (C, image_size, image_size) array, turned upright
    as its EXIF says. A file's bytes go through ``prepare_bytes``, which decodes them."""
    mode = "L" if grayscale else "RGB"
    turn = TURNS.get(image.getexif().get(Base.Orientation, 1))
    return _finished(image, image_size=image_size, mode=mode, turn=turn)


def _finished(
    image: PILImage.Image, *, image_size: int, mode: str, turn: PILImage.Transpose | None
) -> np.ndarray:
    """``prepare_image`` once the image is drafted: converted, squashed, turned."""
    grayscale = mode == "L"
    if image.mode != mode:
        image = image.convert(mode)
    if image.size != (image_size, image_size):
        image = image.resize(
            (image_size, image_size), PILImage.Resampling.BILINEAR, reducing_gap=2.0
        )
    if turn is not None:
        image = image.transpose(turn)
    pixels = np.asarray(image, dtype=np.uint8)
    return pixels[None] if grayscale else pixels.transpose(2, 0, 1)


Where = Place  # a kept input's place in its shard (``input_shards.Place``)
_shelf_of: dict[tuple[str, int, bool], Shelf] = {}  # InputCache.shelf's answers


@dataclass(frozen=True)
class InputCache:
    """Images already decoded and shrunk to a model's input, in a folder of the workers.

    Pre-labelling predicts every unlabelled image again after each promotion, and every
    training run decodes every labelled image again: for a small input, reading the
    source file and decoding it costs more than the model itself. So the uint8 pixels of
    each image at each (size, mode) are kept, named by the source file's sha256: content
    never changes under a name, so an entry is never stale, and the folder can be
    emptied at any time. They are kept as records in large shard files, one folder of
    shards per (size, mode) (``input_shards``), so that a pass reads a batch without
    opening a file per image. Inputs larger than ``max_size`` pixels a side are not kept.
    A missing or damaged entry is decoded afresh and kept again.
    """

    root: Path
    max_size: int = 64

    def applies(self, key: str | None, image_size: int) -> bool:
        """Whether this input is kept: a sha256 key, and an input no larger than max_size."""
        return key is not None and image_size <= self.max_size and bool(_CACHE_KEY.match(key))

    def shelf(self, image_size: int, grayscale: bool) -> Shelf:
        """The shards of inputs of this size and mode."""
        key = (str(self.root), image_size, grayscale)
        found = _shelf_of.get(key)
        if found is None:
            mode = "l" if grayscale else "rgb"
            channels = 1 if grayscale else 3
            folder = self.root / f"v{_CACHE_FORMAT}" / f"{image_size}-{mode}"
            found = _shelf_of[key] = shelf(folder, channels * image_size * image_size)
        return found

    def locate(self, keys: Sequence[str], image_size: int, grayscale: bool) -> list[Where | None]:
        """Where each key's kept input is (None: not kept); ``read_into`` reads it. A folder
        that cannot be read keeps nothing: every input is decoded afresh."""
        try:
            return self.shelf(image_size, grayscale).locate(keys)
        except (OSError, ValueError) as exc:
            logger.warning("Model inputs in %s could not be read: %s", self.root, exc)
            return [None] * len(keys)

    def read_into(self, where: Where, image_size: int, grayscale: bool, out: np.ndarray) -> bool:
        """Read a located input into ``out`` (C-contiguous uint8, (C, H, W)); False when
        it is no longer there whole (erased, the folder emptied). Safe on any thread: the
        reads let the GIL go."""
        return self.shelf(image_size, grayscale).read_into(where, out)

    def read_many(
        self, image_size: int, grayscale: bool, items: Sequence[tuple[Where, np.ndarray]]
    ) -> list[bool]:
        """``read_into`` for many, each run of records that follow one another in a shard
        read with one system call; True for each that read whole."""
        return self.shelf(image_size, grayscale).read_many(items)

    def get(self, key: str, image_size: int, grayscale: bool) -> np.ndarray | None:
        """The kept (C, H, W) pixels, or None."""
        (where,) = self.locate([key], image_size, grayscale)
        if where is None:
            return None
        pixels = np.empty((1 if grayscale else 3, image_size, image_size), dtype=np.uint8)
        return pixels if self.read_into(where, image_size, grayscale, pixels) else None

    def has(self, key: str, image_size: int, grayscale: bool) -> bool:
        """Whether a whole input is kept."""
        return self.locate([key], image_size, grayscale)[0] is not None

    def missing(self, key: str, specs: Iterable[InputSpec]) -> set[InputSpec]:
        """The inputs among ``specs`` that apply to this key and are not kept yet."""
        return {
            (size, gray)
            for size, gray in specs
            if self.applies(key, size) and not self.has(key, size, gray)
        }

    def kept(self) -> list[str]:
        """Every input kept, as ``{size}-{mode}/{sha256}`` (``rgb`` or ``l``), sorted."""
        return sorted(
            f"{folder.name}/{key}"
            for folder, record in shard_folders(self.root / f"v{_CACHE_FORMAT}")
            for key in shelf(folder, record).kept_keys()
        )

    def forget(self, key: str) -> int:
        """Erase every kept input of the file with this sha256 (every size and mode, and
        the files of the older one-file-per-input format); returns how many went."""
        if not _CACHE_KEY.match(key):
            return 0
        gone = 0
        for folder, record in shard_folders(self.root / f"v{_CACHE_FORMAT}"):
            gone += shelf(folder, record).erase(key)
        for path in self.root.glob(f"v1/*/{key[:2]}/{key}.u8*"):
            try:
                path.unlink()
                gone += 1
            except FileNotFoundError:
                continue
        return gone

    def put(self, key: str, image_size: int, grayscale: bool, pixels: np.ndarray) -> None:
        """Keep the pixels (appended to the shape's current shard)."""
        content = np.ascontiguousarray(pixels, dtype=np.uint8).tobytes()
        try:
            self.shelf(image_size, grayscale).append(key, content)
        except OSError as exc:  # a full or read-only disk only costs the next decode
            logger.debug("Could not keep the %d-pixel model input of %s: %s", image_size, key, exc)


def input_cache() -> InputCache | None:
    """The workers' folder of model inputs (None when LABELER_INPUT_CACHE_DIR is "")."""
    root = input_cache_dir()
    if not root:
        return None
    return InputCache(Path(root), max_size=input_cache_max_size())


def inputs_keep_decoded(
    cache: InputCache, key: str, upright: PILImage.Image, specs: Iterable[InputSpec]
) -> set[InputSpec]:
    """Keep the inputs not yet kept that ``upright`` covers, from its pixels: an image
    decoded already (the previews' reduced decode, ``files.previews_render``) and turned
    upright. Returns the inputs it leaves to ``inputs_keep``: those larger than the
    decoded image on a side, unless it is the original's whole size.

    The pixels are within a level or two of ``prepare_image``'s, which decodes a JPEG at
    the smallest scale covering the input: a 12-megapixel photo's 224-pixel input comes
    through 1/8 scale (each 8 x 8 block's mean) there, and through half scale reduced by
    four (each block's 4 x 4 half-scale pixels averaged) here.
    """
    left: set[InputSpec] = set()
    for image_size, grayscale in sorted(cache.missing(key, specs)):
        if min(upright.size) < image_size:
            left.add((image_size, grayscale))
            continue
        mode = "L" if grayscale else "RGB"
        pixels = _finished(upright, image_size=image_size, mode=mode, turn=None)
        cache.put(key, image_size, grayscale, pixels)
    return left


def inputs_keep(cache: InputCache, key: str, content: bytes, specs: Iterable[InputSpec]) -> int:
    """Decode ``content`` to each of the inputs not yet kept and keep it; returns how many.

    A file that does not decode is left to the model's own decoding, which reports it.
    """
    made = 0
    # Inputs whose drafts come out alike (a 12-megapixel JPEG at 1/8 scale covers both 32
    # and 224 pixels) share one decode: the pixels are those prepare_image gives each.
    decoded: dict[tuple[str, int], PILImage.Image] = {}
    for image_size, grayscale in sorted(cache.missing(key, specs)):
        mode = "L" if grayscale else "RGB"
        try:
            turn = TURNS.get(image_orientation(content))
            drafted = (mode, _draft_factor(content, image_size))
            if drafted not in decoded:
                decoded[drafted] = image_decode(content, mode=mode, box=(image_size, image_size))
            pixels = _finished(decoded[drafted], image_size=image_size, mode=mode, turn=turn)
        except (OSError, SyntaxError, ValueError, EOFError, PILImage.DecompressionBombError):
            logger.warning("Could not make the %d-pixel model input of %s", image_size, key)
            return made
        cache.put(key, image_size, grayscale, pixels)
        made += 1
    return made


def _draft_factor(content: bytes, image_size: int) -> int:
    """The scale a JPEG is decoded at for this size, as Pillow's draft picks it (1: whole)."""
    opened = image_open(content)
    if opened.format not in ("JPEG", "MPO"):
        return 1
    scale = min(opened.width // image_size, opened.height // image_size)
    return next(factor for factor in (8, 4, 2, 1) if scale >= factor or factor == 1)
