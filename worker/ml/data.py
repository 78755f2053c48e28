"""Images in, tensors out: decoding to a fixed size, and augmentation on the device.

Decoding shrinks, squares and turns upright (a stored file not yet turned by the worker
still says how in its EXIF): JPEG files are decoded at a reduced scale straight away
(``draft``), every image is squashed to ``image_size`` x ``image_size``, and the batch
is a uint8 (N, C, H, W) tensor, C = 1 (grayscale) or 3 (RGB).
"""

from __future__ import annotations

import functools
import io
import itertools
import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from typing import Any, BinaryIO

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image as PILImage

from labeler.images.pixels.decoding import DecodeRefused, image_whole_check
from labeler.images.pixels.model_inputs import InputCache, Where, prepare_bytes, prepare_image
from labeler.words import counted

Opener = Callable[[str], BinaryIO]
# Decodes JPEG files' bytes (on a GPU) to inputs; None for each it could not decode.
JpegDecoder = Callable[[Sequence[bytes]], list[np.ndarray | None]]
_GRAY_WEIGHTS = (0.299, 0.587, 0.114)
_JPEG_MAGIC = b"\xff\xd8\xff"
# A JPEG this large (a photo of a few megapixels and up) is worth a GPU's decoder; a
# smaller one PIL decodes at a reduced scale in a few milliseconds.
JPEG_GPU_MIN_BYTES = 512 * 1024


class BadImage(ValueError):
    """An image file that cannot be read or decoded; ``name`` says which."""

    def __init__(self, name: str, reason: str = "", names: Sequence[str] = ()) -> None:
        super().__init__(f"Cannot decode image {name!r}" + (f": {reason}" if reason else "."))
        self.name = name
        self.reason = reason
        self.names = list(names) or [name]


def decode_file(
    name: str,
    opener: Opener,
    *,
    image_size: int,
    grayscale: bool,
    key: str | None = None,
    cache: InputCache | None = None,
) -> np.ndarray:
    """Open, decode and shrink one stored file; raises ``BadImage`` when that fails.

    With a ``cache`` and the file's sha256 as ``key``, the kept input is used when there
    is one, and a decoded one is kept.
    """
    kept = cache is not None and cache.applies(key, image_size)
    if kept:
        assert cache is not None and key is not None
        pixels = cache.get(key, image_size, grayscale)
        if pixels is not None:
            return pixels
    pixels = _decode(name, opener, image_size=image_size, grayscale=grayscale)
    if kept:
        assert cache is not None and key is not None
        cache.put(key, image_size, grayscale, pixels)
    return pixels


# What decoding a damaged (or too costly) image raises.
DECODE_ERRORS = (OSError, SyntaxError, ValueError, EOFError, PILImage.DecompressionBombError)


def _decode(name: str, opener: Opener, *, image_size: int, grayscale: bool) -> np.ndarray:
    try:
        with opener(name) as handle:
            content = handle.read()
        return prepare_bytes(content, image_size=image_size, grayscale=grayscale)
    except DECODE_ERRORS as exc:
        raise BadImage(name, str(exc) or type(exc).__name__) from exc


class _Kept:
    """A kept input read straight into its batch's place (``Pending.out``)."""


KEPT = _Kept()
# What decoding one file gives: its pixels, why it failed, a large JPEG's bytes, or KEPT.
Outcome = np.ndarray | BadImage | bytes | _Kept


@dataclass
class Decoded:
    """A decoded batch: the images that worked, their positions in the input, the failures
    (``bad``: their names; ``reasons``: why each failed, in the same order)."""

    images: torch.Tensor
    ok: list[int] = field(default_factory=list)
    bad: list[str] = field(default_factory=list)
    reasons: list[str] = field(default_factory=list)


@dataclass
class Pending:
    """A batch being decoded into ``out`` (its uint8 (N, C, H, W) block, pinned for a GPU):
    pool tasks read the kept inputs straight into it and decode the other files."""

    count: int
    out: torch.Tensor
    pinned: bool = False
    names: list[str] = field(default_factory=list)
    tasks: list[tuple[list[int], Future[list[Outcome]]]] = field(default_factory=list)


def decode_submit(
    pool: ThreadPoolExecutor,
    names: Sequence[str],
    opener: Opener,
    *,
    image_size: int,
    grayscale: bool,
    keys: Sequence[str | None] | None = None,
    cache: InputCache | None = None,
    parts: int = 2,
    jpeg_bytes: bool = False,
    pin: bool = False,
) -> Pending:
    """Start decoding ``names`` into the batch's block: kept inputs are read straight into
    it, a run of records that follow one another in a shard with one system call (here
    and now for a small batch, in ``parts`` slices on the pool for a large one), and the
    other files are decoded on the pool in ``parts`` slices (PIL releases the GIL while
    it decodes). ``keys``: each file's sha256, for
    the ``cache``. With ``jpeg_bytes`` the pool only reads large JPEG files, for
    ``decode_collect``'s ``jpeg_decoder``. ``pin``: the block in pinned memory, for a
    copy to a GPU that does not block.
    """
    keys = keys if keys is not None else [None] * len(names)
    if len(keys) != len(names):
        raise ValueError("keys must match names one to one")
    shape = (len(names), 1 if grayscale else 3, image_size, image_size)
    out = torch.empty(shape, dtype=torch.uint8, pin_memory=pin)
    pending = Pending(count=len(names), out=out, pinned=pin, names=list(names))
    places: list[Where | None] = [None] * len(names)
    if cache is not None:
        keyed = [i for i, key in enumerate(keys) if cache.applies(key, image_size)]
        located = cache.locate([str(keys[i]) for i in keyed], image_size, grayscale)
        for index, where in zip(keyed, located, strict=True):
            places[index] = where
    kept = [i for i, where in enumerate(places) if where is not None]
    todo = [i for i, where in enumerate(places) if where is None]
    options = {
        "image_size": image_size,
        "grayscale": grayscale,
        "cache": cache,
        "jpeg_bytes": jpeg_bytes,
    }
    block = out.numpy()
    # Kept inputs are read a run of records at a time: small ones here and now (a thread
    # per slice would cost more than the reads), large ones in the pool, side by side.
    record = block[0].nbytes if len(block) else 0
    inline = len(kept) * record < _READ_INLINE_BYTES
    for group, reader in ((kept, _read_kept), (todo, _decode_slice)):
        count = 1 if group is kept and inline else max(1, min(parts, len(group)))
        bounds = [len(group) * i // count for i in range(count + 1)]
        for low, high in itertools.pairwise(bounds):
            if high > low:
                indexes = group[low:high]
                items = [(names[i], keys[i], places[i], block[i]) for i in indexes]
                if group is kept and inline:
                    task: Future[list[Outcome]] = Future()
                    task.set_result(_read_kept(items, opener, options))
                else:
                    task = pool.submit(reader, items, opener, options)
                pending.tasks.append((indexes, task))
    return pending


# A batch's kept inputs smaller than this are read in the calling thread.
_READ_INLINE_BYTES = 8 << 20
Item = tuple[str, str | None, Where | None, np.ndarray]


def _read_kept(items: Sequence[Item], opener: Opener, options: dict[str, Any]) -> list[Outcome]:
    """Read kept inputs into their places in the batch; any that does not read whole (the
    folder emptied meanwhile) is decoded from its file."""
    cache: InputCache = options["cache"]
    size, grayscale = options["image_size"], options["grayscale"]
    located = [(where, place) for _, _, where, place in items if where is not None]
    if len(located) != len(items):
        raise ValueError("every item read here must be located")
    read = cache.read_many(size, grayscale, located)
    if all(read):
        return [KEPT] * len(items)
    again = [item for item, whole in zip(items, read, strict=True) if not whole]
    decoded = iter(
        _decode_slice([(name, key, None, place) for name, key, _, place in again], opener, options)
    )
    return [KEPT if whole else next(decoded) for whole in read]


def _decode_slice(items: Sequence[Item], opener: Opener, options: dict[str, Any]) -> list[Outcome]:
    options = dict(options)
    jpeg_bytes = options.pop("jpeg_bytes", False)
    results: list[Outcome] = []
    for name, key, _, _ in items:
        try:
            if jpeg_bytes:
                results.append(_jpeg_or_decoded(name, opener, key=key, **options))
            else:
                results.append(decode_file(name, opener, key=key, **options))
        except BadImage as exc:
            results.append(exc)
    return results


def _jpeg_or_decoded(
    name: str,
    opener: Opener,
    *,
    key: str | None,
    image_size: int,
    grayscale: bool,
    cache: InputCache | None,
) -> np.ndarray | bytes:
    """A large JPEG file's bytes; any other file decoded (and kept) as ``decode_file`` does."""
    try:
        with opener(name) as handle:
            content = handle.read()
    except OSError as exc:
        raise BadImage(name, str(exc) or type(exc).__name__) from exc
    if content.startswith(_JPEG_MAGIC) and len(content) >= JPEG_GPU_MIN_BYTES:
        try:  # decoded whole on the GPU: refused first above the decoding cap
            image_whole_check(content)
        except DecodeRefused as exc:
            raise BadImage(name, str(exc)) from exc
        except DECODE_ERRORS:
            pass  # a broken header: the GPU's decoder (then PIL) says what is wrong
        return content
    kept = cache is not None and cache.applies(key, image_size)
    pixels = decode_bytes(name, content, image_size=image_size, grayscale=grayscale)
    if kept:
        assert cache is not None and key is not None
        cache.put(key, image_size, grayscale, pixels)
    return pixels


BEAT_SECONDS = 10.0  # how often a long decode calls its ``beat`` while it waits


def decode_collect(
    pending: Pending,
    *,
    image_size: int,
    grayscale: bool,
    beat: Callable[[], object] | None = None,
    beat_seconds: float = BEAT_SECONDS,
    jpeg_decoder: JpegDecoder | None = None,
) -> Decoded:
    """Wait for ``decode_submit``'s work and gather what decoded into one tensor.

    ``beat`` is called every ``beat_seconds`` while the work goes on (a training's
    heartbeat: decoding tens of thousands of photos takes minutes). JPEG bytes read for
    a ``jpeg_decoder`` are decoded by it, together; what it cannot decode, PIL does.
    """
    waiting = {task for _, task in pending.tasks}
    while beat is not None and waiting:
        _, waiting = wait(waiting, timeout=beat_seconds)
        if waiting:
            beat()
    results: list[Outcome | None] = [None] * pending.count
    for indexes, task in pending.tasks:
        for index, outcome in zip(indexes, task.result(), strict=True):
            results[index] = outcome
    _decode_jpegs(pending, results, jpeg_decoder, image_size=image_size, grayscale=grayscale)
    decoded = Decoded(images=pending.out)
    block = pending.out.numpy()
    for index, result in enumerate(results):
        if isinstance(result, np.ndarray):
            block[index] = result
            decoded.ok.append(index)
        elif result is KEPT:
            decoded.ok.append(index)
        elif isinstance(result, BadImage):
            decoded.bad.append(result.name)
            decoded.reasons.append(result.reason or "it cannot be decoded")
    if len(decoded.ok) < pending.count:  # the failures left out: the rest closed up
        rows = torch.tensor(decoded.ok, dtype=torch.long)
        shape = (len(rows), *pending.out.shape[1:])
        images = torch.empty(shape, dtype=torch.uint8, pin_memory=pending.pinned)
        decoded.images = torch.index_select(pending.out, 0, rows, out=images)
    return decoded


def _decode_jpegs(
    pending: Pending,
    results: list[Outcome | None],
    decoder: JpegDecoder | None,
    *,
    image_size: int,
    grayscale: bool,
) -> None:
    """Replace the JPEG bytes among ``results`` by their pixels (or a ``BadImage``)."""
    waiting = [i for i, result in enumerate(results) if isinstance(result, bytes)]
    if not waiting:
        return
    contents = [result for result in results if isinstance(result, bytes)]
    decoded = decoder(contents) if decoder is not None else [None] * len(waiting)
    for index, content, pixels in zip(waiting, contents, decoded, strict=True):
        if pixels is not None:
            results[index] = pixels
            continue
        try:  # a JPEG the GPU's decoder refuses (CMYK, say): PIL decodes it
            results[index] = decode_bytes(
                pending.names[index], content, image_size=image_size, grayscale=grayscale
            )
        except BadImage as exc:
            results[index] = exc


def decode_bytes(name: str, content: bytes, *, image_size: int, grayscale: bool) -> np.ndarray:
    """A file's bytes decoded as ``decode_file`` decodes a stored file (no cache)."""
    return _decode(name, lambda _: io.BytesIO(content), image_size=image_size, grayscale=grayscale)


def decode_files(
    names: Sequence[str],
    opener: Opener,
    *,
    image_size: int,
    grayscale: bool,
    threads: int = 2,
    keys: Sequence[str | None] | None = None,
    cache: InputCache | None = None,
    beat: Callable[[], object] | None = None,
) -> Decoded:
    """Decode many files in a thread pool, keeping the failures apart (``beat``: see
    ``decode_collect``)."""
    with ThreadPoolExecutor(max_workers=max(1, threads)) as pool:
        pending = decode_submit(
            pool,
            names,
            opener,
            image_size=image_size,
            grayscale=grayscale,
            keys=keys,
            cache=cache,
            parts=max(1, threads) * 4,
        )
        return decode_collect(pending, image_size=image_size, grayscale=grayscale, beat=beat)


def load_images(
    names: Sequence[str], opener: Opener, *, image_size: int, grayscale: bool, threads: int = 2
) -> torch.Tensor:
    """Decode every file to a uint8 (N, C, H, W) tensor.

    Raises ``BadImage`` for the first file that fails, after trying them all; its
    ``names`` lists every failure so a caller can leave them out and report them.
    """
    decoded = decode_files(
        names, opener, image_size=image_size, grayscale=grayscale, threads=threads
    )
    if decoded.bad:
        raise BadImage(
            decoded.bad[0], f"{counted(len(decoded.bad), 'file')} failed", names=decoded.bad
        )
    return decoded.images


def images_from_pil(
    images: Iterable[PILImage.Image], *, image_size: int, grayscale: bool
) -> torch.Tensor:
    """PIL images through the same preparation as stored files (for benches and tests)."""
    arrays = [prepare_image(i, image_size=image_size, grayscale=grayscale) for i in images]
    return _stack(arrays, 1 if grayscale else 3, image_size)


def images_from_arrays(
    arrays: Iterable[np.ndarray], *, image_size: int, grayscale: bool
) -> torch.Tensor:
    """uint8 (H, W) or (H, W, 3) arrays through the same preparation as stored files."""
    pil = (PILImage.fromarray(np.asarray(a, dtype=np.uint8)) for a in arrays)
    return images_from_pil(pil, image_size=image_size, grayscale=grayscale)


def _stack(arrays: Sequence[np.ndarray], channels: int, size: int) -> torch.Tensor:
    out = np.empty((len(arrays), channels, size, size), dtype=np.uint8)
    for i, array in enumerate(arrays):
        out[i] = array
    return torch.from_numpy(out)


def to_model_input(
    x: torch.Tensor,
    *,
    device: torch.device,
    normalisation: Mapping[str, Sequence[float]],
    augmenter: Augmenter | None = None,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """uint8 images to the normalised float batch a model takes, augmented when asked."""
    batch = x.to(device, non_blocking=True).float().div_(255.0)
    if augmenter is not None:
        batch = augmenter(batch, generator)
    mean, std = _normaliser(device, tuple(normalisation["mean"]), tuple(normalisation["std"]))
    return batch.sub_(mean).div_(std)


@functools.lru_cache(maxsize=8)
def _gray_weights(device: torch.device) -> torch.Tensor:
    """The luminance weights as a (1, 3, 1, 1) tensor on ``device``, made once."""
    return torch.tensor(_GRAY_WEIGHTS, device=device).view(1, 3, 1, 1)


@functools.lru_cache(maxsize=16)
def _normaliser(
    device: torch.device, mean: tuple[float, ...], std: tuple[float, ...]
) -> tuple[torch.Tensor, torch.Tensor]:
    """The mean and deviation as (1, C, 1, 1) tensors on ``device``, made once: a tensor
    built from a list on a GPU is a blocking copy that waits for every kernel queued
    before it, twice a batch, which kept the GPU from running ahead of the CPU."""
    return (
        torch.tensor(mean, device=device).view(1, -1, 1, 1),
        torch.tensor(std, device=device).view(1, -1, 1, 1),
    )


class Augmenter:
    """Random flips, small rotations, shift-zoom crops and colour jitter of a float batch.

    Works on (N, C, H, W) values in 0..1 on any device, one draw per image; colour
    jitter applies to RGB batches only. Config keys as ``augment`` in the training config.
    """

    def __init__(self, config: Mapping[str, Any]) -> None:
        self.hflip = bool(config.get("hflip", False))
        self.vflip = bool(config.get("vflip", False))
        self.rotation = float(config.get("rotation", 0.0))
        self.crop = float(config.get("crop", 0.0))
        self.color_jitter = float(config.get("color_jitter", 0.0))

    def __call__(self, x: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        """An augmented copy of the batch (random draws from ``generator``, on the CPU)."""

        def uniform(*shape: int) -> torch.Tensor:
            # Draws come from a CPU generator so a seed gives the same batch on every device.
            draws = torch.rand(shape, generator=generator)
            if x.device.type != "cuda":
                return draws.to(x.device)
            # From pinned memory the copy queues behind the kernels instead of waiting
            # for them: a blocking copy here stalled the CPU every batch.
            return draws.pin_memory().to(x.device, non_blocking=True)

        n = x.shape[0]
        if self.hflip:
            x = torch.where((uniform(n) < 0.5).view(n, 1, 1, 1), x.flip(3), x)
        if self.vflip:
            x = torch.where((uniform(n) < 0.5).view(n, 1, 1, 1), x.flip(2), x)
        if self.rotation > 0 or self.crop > 0:
            x = self._affine(x, uniform(n, 4))
        if self.color_jitter > 0 and x.shape[1] == 3:
            x = self._jitter(x, uniform(n, 3))
        return x

    def _affine(self, x: torch.Tensor, draws: torch.Tensor) -> torch.Tensor:
        angle = (draws[:, 0] * 2 - 1) * math.radians(self.rotation)
        scale = 1 - draws[:, 1] * self.crop  # < 1 samples a smaller window: a zoom in
        shift = (draws[:, 2:] * 2 - 1) * self.crop * 2  # grid units: 2 spans the image
        cos, sin = torch.cos(angle) * scale, torch.sin(angle) * scale
        theta = torch.stack(
            [torch.stack([cos, -sin, shift[:, 0]], 1), torch.stack([sin, cos, shift[:, 1]], 1)],
            1,
        )
        grid = F.affine_grid(theta, list(x.shape), align_corners=False)
        return F.grid_sample(x, grid, mode="bilinear", padding_mode="border", align_corners=False)

    def _jitter(self, x: torch.Tensor, draws: torch.Tensor) -> torch.Tensor:
        factors = 1 + (draws * 2 - 1) * self.color_jitter
        brightness, contrast, saturation = (factors[:, i].view(-1, 1, 1, 1) for i in range(3))
        weights = _gray_weights(x.device)
        x = x * brightness
        mean = (x * weights).sum(1, keepdim=True).mean((2, 3), keepdim=True)
        x = (x - mean) * contrast + mean
        gray = (x * weights).sum(1, keepdim=True)
        return ((x - gray) * saturation + gray).clamp_(0.0, 1.0)
