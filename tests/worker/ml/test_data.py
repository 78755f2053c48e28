"""Decoding stored files to tensors, and augmentation on the device."""

from __future__ import annotations

import hashlib
import io

import numpy as np
import pytest
import torch
from PIL import Image as PILImage

from worker.ml import data


def encoded(image: PILImage.Image, fmt: str) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format=fmt)
    return buffer.getvalue()


@pytest.fixture
def files() -> dict[str, bytes]:
    rng = np.random.default_rng(0)
    rgb = PILImage.fromarray(rng.integers(0, 255, (30, 40, 3), dtype=np.uint8))
    return {
        "photo.jpg": encoded(rgb, "JPEG"),
        "photo.png": encoded(rgb, "PNG"),
        "alpha.png": encoded(rgb.convert("RGBA"), "PNG"),
        "palette.gif": encoded(rgb.convert("P"), "GIF"),
        "gray.webp": encoded(rgb.convert("L"), "WEBP"),
        "broken.jpg": b"\xff\xd8\xff not really a jpeg",
        "truncated.png": encoded(rgb, "PNG")[:60],
    }


def opener_for(files: dict[str, bytes]):
    def opener(name: str) -> io.BytesIO:
        if name not in files:
            raise FileNotFoundError(name)
        return io.BytesIO(files[name])

    return opener


GOOD = ["photo.jpg", "photo.png", "alpha.png", "palette.gif", "gray.webp"]


@pytest.mark.parametrize("grayscale, channels", [(False, 3), (True, 1)])
def test_every_format_decodes_to_one_square_size(files, grayscale, channels):
    """Any accepted format, any mode, becomes uint8 (N, C, size, size)."""
    x = data.load_images(GOOD, opener_for(files), image_size=12, grayscale=grayscale)
    assert x.dtype == torch.uint8
    assert x.shape == (len(GOOD), channels, 12, 12)


def test_jpeg_and_png_of_one_image_agree(files):
    """The reduced-scale JPEG decoding still gives the same picture as the lossless PNG."""
    x = data.load_images(
        ["photo.jpg", "photo.png"], opener_for(files), image_size=8, grayscale=False
    )
    difference = (x[0].float() - x[1].float()).abs().mean()
    assert difference < 12


@pytest.mark.parametrize("name", ["broken.jpg", "truncated.png", "missing.png"])
def test_bad_file_raises_bad_image_naming_it(files, name):
    with pytest.raises(data.BadImage) as caught:
        data.load_images(["photo.png", name], opener_for(files), image_size=8, grayscale=False)
    assert caught.value.name == name
    assert caught.value.names == [name]
    assert isinstance(caught.value, ValueError)


def test_decode_files_keeps_the_good_ones(files):
    """Failures are reported by name; the good images keep their input positions."""
    names = ["broken.jpg", "photo.png", "missing.png", "gray.webp"]
    decoded = data.decode_files(names, opener_for(files), image_size=8, grayscale=True)
    assert decoded.ok == [1, 3]
    assert decoded.bad == ["broken.jpg", "missing.png"]
    assert decoded.images.shape == (2, 1, 8, 8)


def key_of(content: bytes) -> str:
    return hashlib.sha256(content).hexdigest()


def test_kept_inputs_are_used_instead_of_the_files(files, tmp_path):
    """A second pass reads the kept inputs: the same pixels, even with the files gone."""
    cache = data.InputCache(tmp_path / "inputs")
    keys = [key_of(files[name]) for name in GOOD]
    first = data.decode_files(
        GOOD, opener_for(files), image_size=12, grayscale=False, keys=keys, cache=cache
    )
    assert cache.kept() == sorted(f"12-rgb/{key}" for key in keys)
    again = data.decode_files(
        GOOD, opener_for({}), image_size=12, grayscale=False, keys=keys, cache=cache
    )
    assert again.ok == first.ok == list(range(len(GOOD))) and not again.bad
    assert torch.equal(again.images, first.images)
    # Another size or mode is another input, decoded from the file.
    gray = data.decode_files(
        GOOD, opener_for({}), image_size=12, grayscale=True, keys=keys, cache=cache
    )
    assert gray.bad == GOOD


def test_a_damaged_kept_input_is_decoded_again(files, tmp_path):
    """A record cut short (a disk that filled up mid-write) is not read: the file is
    decoded again and kept whole."""
    cache = data.InputCache(tmp_path)
    key = key_of(files["photo.png"])
    expected = data.decode_file("photo.png", opener_for(files), image_size=8, grayscale=False)
    cache.put(key, 8, False, expected)
    (records,) = (tmp_path / "v2" / "8-rgb").glob("*.u8")
    with open(records, "r+b") as handle:
        handle.truncate(100)
    decoded = data.decode_file(
        "photo.png", opener_for(files), image_size=8, grayscale=False, key=key, cache=cache
    )
    assert np.array_equal(decoded, expected)
    assert np.array_equal(cache.get(key, 8, False), expected)  # rewritten whole


@pytest.mark.parametrize(
    "key, size", [("a" * 64, 65), ("../" + "a" * 61, 8), ("not a hash", 8), (None, 8)]
)
def test_large_inputs_and_odd_keys_are_not_kept(files, tmp_path, key, size):
    cache = data.InputCache(tmp_path, max_size=64)
    data.decode_file(
        "photo.png", opener_for(files), image_size=size, grayscale=False, key=key, cache=cache
    )
    assert not list(tmp_path.rglob("*"))


def test_arrays_take_the_same_path_as_files():
    """An array and the PNG file of it give the same tensor."""
    array = np.random.default_rng(1).integers(0, 255, (8, 8), dtype=np.uint8)
    from_array = data.images_from_arrays([array], image_size=16, grayscale=False)
    png = {"a.png": encoded(PILImage.fromarray(array), "PNG")}
    from_file = data.load_images(["a.png"], opener_for(png), image_size=16, grayscale=False)
    assert torch.equal(from_array, from_file)


def test_model_input_is_normalised():
    x = torch.full((2, 3, 4, 4), 255, dtype=torch.uint8)
    out = data.to_model_input(
        x, device=torch.device("cpu"), normalisation={"mean": [0.5] * 3, "std": [0.25] * 3}
    )
    assert out.dtype == torch.float32
    assert torch.allclose(out, torch.full_like(out, 2.0))


def batch(n: int = 16, channels: int = 3) -> torch.Tensor:
    return torch.rand((n, channels, 10, 10), generator=torch.Generator().manual_seed(0))


def test_augmenter_with_everything_off_changes_nothing():
    off = {"hflip": False, "vflip": False, "rotation": 0, "crop": 0, "color_jitter": 0}
    x = batch()
    assert torch.equal(data.Augmenter(off)(x), x)


def test_flip_flips_some_images_and_leaves_the_others():
    x = batch(32)
    out = data.Augmenter({"hflip": True})(x, torch.Generator().manual_seed(3))
    flipped = [torch.equal(o, i.flip(2)) for o, i in zip(out, x, strict=True)]
    kept = [torch.equal(o, i) for o, i in zip(out, x, strict=True)]
    assert all(f or k for f, k in zip(flipped, kept, strict=True))
    assert 0 < sum(flipped) < 32


def test_full_augmentation_is_seeded_and_stays_in_range():
    config = {"hflip": True, "vflip": True, "rotation": 15, "crop": 0.2, "color_jitter": 0.4}
    x = batch()
    first = data.Augmenter(config)(x, torch.Generator().manual_seed(5))
    again = data.Augmenter(config)(x, torch.Generator().manual_seed(5))
    other = data.Augmenter(config)(x, torch.Generator().manual_seed(6))
    assert first.shape == x.shape
    assert torch.equal(first, again)
    assert not torch.equal(first, other)
    assert first.min() >= 0 and first.max() <= 1


def test_colour_jitter_skips_grayscale():
    x = batch(channels=1)
    assert torch.equal(data.Augmenter({"color_jitter": 0.5})(x), x)


def test_small_rotation_keeps_the_picture_close():
    """A 5-degree turn of a smooth image moves pixel values only a little."""
    ramp = torch.linspace(0, 1, 10).view(1, 1, 1, 10).expand(4, 3, 10, 10).contiguous()
    out = data.Augmenter({"rotation": 5})(ramp, torch.Generator().manual_seed(0))
    assert (out - ramp).abs().mean() < 0.05


def test_kept_inputs_read_on_the_pool_with_a_damaged_one_decoded_again(
    files, tmp_path, monkeypatch
):
    """Kept inputs read by the pool's threads (a large batch's), the last record cut
    short: the others come from the shard (their files are gone), that one from its file."""
    monkeypatch.setattr(data, "_READ_INLINE_BYTES", 0)
    cache = data.InputCache(tmp_path)
    keys = [key_of(files[name]) for name in GOOD]
    first = data.decode_files(
        GOOD, opener_for(files), image_size=12, grayscale=False, keys=keys, cache=cache
    )
    (records,) = (tmp_path / "v2" / "12-rgb").glob("*.u8")
    last = records.with_suffix(".keys").read_bytes()[-32:].hex()
    with open(records, "r+b") as handle:
        handle.truncate(records.stat().st_size - 10)
    (damaged,) = [name for name, key in zip(GOOD, keys, strict=True) if key == last]
    again = data.decode_files(
        GOOD,
        opener_for({damaged: files[damaged]}),
        image_size=12,
        grayscale=False,
        keys=keys,
        cache=cache,
        threads=2,
    )
    assert again.ok == first.ok and not again.bad
    assert torch.equal(again.images, first.images)
