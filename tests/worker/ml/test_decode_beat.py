"""A long decode calls its heartbeat while it waits for the decoding threads."""

from __future__ import annotations

import io
import threading

from PIL import Image as PILImage

from worker.ml.data import decode_collect, decode_submit


def test_decoding_beats_while_the_threads_work():
    from concurrent.futures import ThreadPoolExecutor

    release = threading.Event()
    beats: list[int] = []
    png = io.BytesIO()
    PILImage.new("RGB", (16, 12), (200, 10, 10)).save(png, "PNG")

    def opener(name: str):
        release.wait(5)  # the decode is held until the heartbeat was heard twice
        return io.BytesIO(png.getvalue())

    def beat() -> None:
        beats.append(1)
        if len(beats) >= 2:
            release.set()

    with ThreadPoolExecutor(max_workers=2) as pool:
        pending = decode_submit(pool, ["a.png", "b.png"], opener, image_size=8, grayscale=False)
        decoded = decode_collect(
            pending, image_size=8, grayscale=False, beat=beat, beat_seconds=0.01
        )
    assert len(beats) >= 2 and decoded.ok == [0, 1] and tuple(decoded.images.shape) == (2, 3, 8, 8)


def test_without_a_heartbeat_decoding_just_waits():
    from concurrent.futures import ThreadPoolExecutor

    png = io.BytesIO()
    PILImage.new("RGB", (16, 12)).save(png, "PNG")
    with ThreadPoolExecutor(max_workers=1) as pool:
        pending = decode_submit(
            pool, ["a.png"], lambda name: io.BytesIO(png.getvalue()), image_size=8, grayscale=False
        )
        assert decode_collect(pending, image_size=8, grayscale=False).ok == [0]
