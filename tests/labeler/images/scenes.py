"""Generated pictures with structure (gradients and shapes), and their altered copies:
what near-duplicate detection is tested on (a flat colour has no perceptual hash worth
the name)."""

from __future__ import annotations

import io

import numpy as np
from PIL import Image as PILImage
from PIL import ImageDraw, ImageEnhance


def scene(seed: int, size: tuple[int, int] = (160, 120)) -> PILImage.Image:
    """A picture of a few coloured shapes on a gradient, the same for the same seed."""
    rng = np.random.default_rng(seed)
    width, height = size
    across = np.linspace(0, 1, width)[None, :, None]
    down = np.linspace(0, 1, height)[:, None, None]
    corners = rng.integers(0, 255, (3, 3))
    pixels = corners[0] * (1 - across) * (1 - down) + corners[1] * across + corners[2] * down
    image = PILImage.fromarray(np.clip(pixels, 0, 255).astype(np.uint8))
    draw = ImageDraw.Draw(image)
    for _ in range(int(rng.integers(4, 9))):
        x, y = int(rng.integers(0, width)), int(rng.integers(0, height))
        half = int(rng.integers(width // 16, width // 3))
        colour = tuple(int(v) for v in rng.integers(0, 255, 3))
        box = (x - half, y - half, x + half, y + half)
        if rng.integers(0, 2):
            draw.ellipse(box, fill=colour)
        else:
            draw.rectangle(box, fill=colour)
    return image


def resized(image: PILImage.Image, scale: float = 0.6) -> PILImage.Image:
    width, height = image.size
    return image.resize((round(width * scale), round(height * scale)), PILImage.Resampling.BILINEAR)


def recompressed(image: PILImage.Image, quality: int = 40) -> PILImage.Image:
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", quality=quality)
    return PILImage.open(io.BytesIO(buffer.getvalue())).convert("RGB")


def cropped(image: PILImage.Image, share: float = 0.02) -> PILImage.Image:
    """``share`` of the width and height cut from each side."""
    width, height = image.size
    dx, dy = round(width * share), round(height * share)
    return image.crop((dx, dy, width - dx, height - dy))


def recoloured(image: PILImage.Image) -> PILImage.Image:
    """Less saturated, a little brighter and flatter."""
    image = ImageEnhance.Color(image).enhance(0.6)
    image = ImageEnhance.Brightness(image).enhance(1.1)
    return ImageEnhance.Contrast(image).enhance(0.9)


COPIES = {
    "resized": resized,
    "recompressed": recompressed,
    "cropped": cropped,
    "recoloured": recoloured,
}


def encoded(image: PILImage.Image, fmt: str = "PNG") -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format=fmt)
    return buffer.getvalue()


def subject_scene(seed: int, size: tuple[int, int] = (480, 360)) -> PILImage.Image:
    """A few coloured shapes in the middle of a plain light background (a product shot,
    a scanned sign), the same for the same seed."""
    rng = np.random.default_rng(seed)
    width, height = size
    background = tuple(int(v) for v in rng.integers(225, 256, 3))
    image = PILImage.new("RGB", size, background)
    draw = ImageDraw.Draw(image)
    for _ in range(int(rng.integers(2, 6))):
        x = int(rng.integers(width * 3 // 10, width * 7 // 10))
        y = int(rng.integers(height * 3 // 10, height * 7 // 10))
        half = int(rng.integers(height // 12, height // 5))
        colour = tuple(int(v) for v in rng.integers(0, 180, 3))
        box = (x - half, y - half, x + half, y + half)
        if rng.integers(0, 2):
            draw.ellipse(box, fill=colour)
        else:
            draw.rectangle(box, fill=colour)
    return image
