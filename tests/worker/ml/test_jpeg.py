"""JPEG photos decoded by torchvision's decoder (nvJPEG on a GPU): the same picture as
PIL's preparation, upright, and a file it refuses left to PIL."""

from __future__ import annotations

import hashlib
import io
import sys
import types

import numpy as np
import pytest
import torch
from PIL import Image as PILImage

from labeler.images.pixels.model_inputs import InputCache, prepare_bytes
from tests.worker.ml.test_inference import loaded_model
from worker.ml import data, inference, jpeg
from worker.ml.weights import LoadedModel

CPU = torch.device("cpu")


def photo(orientation: int = 1, size: tuple[int, int] = (400, 300), mode: str = "RGB") -> bytes:
    """A JPEG with gradients and an off-centre red block (any turn shows), EXIF-turned."""
    width, height = size
    rows, cols = np.mgrid[0:height, 0:width]
    pixels = np.stack([cols * 255 // width, rows * 255 // height, (rows + cols) % 256], -1)
    pixels[height // 10 : height // 3, width // 8 : width // 2] = (250, 20, 20)
    image = PILImage.fromarray(pixels.astype(np.uint8)).convert(mode)
    exif = image.getexif()
    exif[0x0112] = orientation
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", quality=92, exif=exif.tobytes())
    return buffer.getvalue()


@pytest.mark.parametrize("orientation", range(1, 9))
@pytest.mark.parametrize("grayscale", [False, True])
def test_the_same_picture_as_pil_upright(orientation, grayscale):
    content = photo(orientation)
    expected = prepare_bytes(content, image_size=32, grayscale=grayscale).astype(int)
    [got] = jpeg.decode_jpegs([content], device=CPU, image_size=32, grayscale=grayscale)
    assert got is not None and got.shape == expected.shape and got.dtype == np.uint8
    # Another filter, the same picture: a wrong turn would be tens of levels off.
    assert np.abs(got.astype(int) - expected).mean() < 4


def test_a_file_the_decoder_refuses_is_none_and_the_rest_decode():
    good = photo()
    results = jpeg.decode_jpegs(
        [good, b"\xff\xd8\xff broken", good], device=CPU, image_size=16, grayscale=False
    )
    assert results[1] is None
    assert results[0] is not None and np.array_equal(results[0], results[2])


def test_gpu_decoding_is_off_unless_asked_for(monkeypatch):
    """nvJPEG lost to the CPU's threads in the pre-labelling pipeline where it was
    measured (an H200, docs/benchmarks.md), so it is off by default."""
    monkeypatch.delenv("LABELER_GPU_DECODE", raising=False)
    assert not jpeg.gpu_decode_wanted(torch.device("cuda"))
    monkeypatch.setenv("LABELER_GPU_DECODE", "1")
    assert jpeg.gpu_decode_wanted(torch.device("cuda")) == (jpeg.torchvision_io() is not None)
    # The worker passes its setting, which outweighs the environment.
    assert not jpeg.gpu_decode_wanted(torch.device("cuda"), False)
    monkeypatch.setenv("LABELER_GPU_DECODE", "0")
    assert jpeg.gpu_decode_wanted(torch.device("cuda"), True) == (jpeg.torchvision_io() is not None)


def test_gpu_decoding_is_for_cuda_only(monkeypatch):
    assert not jpeg.gpu_decode_wanted(CPU)
    monkeypatch.setenv("LABELER_GPU_DECODE", "0")
    assert not jpeg.gpu_decode_wanted(torch.device("cuda"))


def test_prediction_hands_large_jpegs_to_the_decoder(monkeypatch, tmp_path):
    """With a JPEG decoder at hand (CUDA's, here the CPU's), the pool reads large JPEGs'
    bytes only; the decoder decodes them together, PIL what it refuses and every other
    file; nothing it decoded goes into the input cache."""
    monkeypatch.setattr(data, "JPEG_GPU_MIN_BYTES", 0)
    monkeypatch.setattr(inference, "gpu_decode_wanted", lambda device: True)
    batches: list[int] = []
    decode = jpeg.decode_jpegs

    def counting(contents, **kw):
        batches.append(len(contents))
        decoded = zip(contents, decode(contents, **kw), strict=True)
        return [None if content.endswith(b"refused") else pixels for content, pixels in decoded]

    monkeypatch.setattr(jpeg, "decode_jpegs", counting)
    cmyk = photo(mode="CMYK") + b"refused"  # trailing bytes: PIL still reads it
    files = {"a.jpg": photo(6), "b.png": _png(), "c.jpg": cmyk, "bad.jpg": b"\xff\xd8\xff no"}
    model = loaded_model()
    names = list(files)
    cache = InputCache(tmp_path)
    keys = [hashlib.sha256(files[name]).hexdigest() for name in names]
    ok, probabilities, bad = inference.predict_files(
        model, names, lambda n: io.BytesIO(files[n]), batch_size=8, keys=keys, cache=cache
    )
    assert ok == [0, 1, 2] and bad == ["bad.jpg"]
    assert batches == [3]
    kept = [cache.has(key, 8, False) for key in keys]
    assert kept == [False, True, False, False]  # PIL's inputs only
    expected = inference.predict_tensor(model, _inputs(files, names[:3], model))
    assert np.abs(probabilities - expected).max() < 0.05


def _png() -> bytes:
    buffer = io.BytesIO()
    PILImage.new("RGB", (30, 20), (10, 200, 30)).save(buffer, format="PNG")
    return buffer.getvalue()


def _inputs(files: dict[str, bytes], names: list[str], model: LoadedModel) -> torch.Tensor:
    size = model.meta["image_size"]
    arrays = [data.decode_bytes(n, files[n], image_size=size, grayscale=False) for n in names]
    return torch.from_numpy(np.stack(arrays))


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_nvjpeg_decodes_the_same_picture_on_cuda():
    contents = [photo(orientation) for orientation in (1, 6, 8)]
    cuda = torch.device("cuda")
    on_gpu = jpeg.decode_jpegs(contents, device=cuda, image_size=64, grayscale=False)
    on_cpu = jpeg.decode_jpegs(contents, device=CPU, image_size=64, grayscale=False)
    for gpu, cpu in zip(on_gpu, on_cpu, strict=True):
        assert gpu is not None and cpu is not None
        assert np.abs(gpu.astype(int) - cpu.astype(int)).mean() < 4


def test_a_torchvision_built_for_another_torch_leaves_decoding_to_pil(monkeypatch):
    """torchvision's operators fail to load beside a torch it was not built for (a
    RuntimeError, not an ImportError): the worker still starts, trains and pre-labels,
    PIL decoding every file."""

    def fail(name: str) -> None:
        raise RuntimeError("operator torchvision::nms does not exist")

    broken = types.ModuleType("torchvision")
    broken.__getattr__ = fail  # type: ignore[method-assign]
    monkeypatch.setitem(sys.modules, "torchvision", broken)
    jpeg.torchvision_io.cache_clear()
    try:
        assert jpeg.torchvision_io() is None
        assert not jpeg.gpu_decode_wanted(torch.device("cuda"), True)
    finally:
        jpeg.torchvision_io.cache_clear()
