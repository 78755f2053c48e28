"""The serving engine: ONNX Runtime gives what torch gives, and concurrent requests are
batched together, each caller getting its own rows."""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest
import torch

from worker.ml import architectures, weights
from worker.ml.anatomy import probabilities_and_embeddings
from worker.ml.engine import Batcher, Engine


def saved(tmp_path, architecture: str, *, multi_label: bool = False, size: int = 16):
    torch.manual_seed(0)
    model = architectures.build(architecture, 3, 3, size).eval()
    meta = {
        "architecture": architecture, "label_ids": [1, 2, 3],
        "thresholds": [0.5] * 3 if multi_label else None, "image_size": size,
        "grayscale": False, "channels": 3,
        "normalisation": architectures.normalisation_for(architecture, 3),
        "multi_label": multi_label,
    }  # fmt: skip
    weights.save(tmp_path / "m.pt", model=model, meta=meta)
    return weights.load(tmp_path / "m.pt", "cpu")


def pixels(count: int, size: int = 16, seed: int = 0) -> torch.Tensor:
    generator = torch.Generator().manual_seed(seed)
    return torch.randint(0, 256, (count, 3, size, size), dtype=torch.uint8, generator=generator)


@pytest.mark.parametrize(
    ("architecture", "multi_label"),
    [("small-cnn", False), ("small-cnn", True), ("resnet18", False)],
)
def test_onnx_runtime_gives_torchs_probabilities_and_embeddings(
    tmp_path, architecture, multi_label
):
    loaded = saved(tmp_path, architecture, multi_label=multi_label, size=32)
    graph = tmp_path / "serving" / "m.onnx"
    engine = Engine(loaded, onnx_path=graph, wait_for_graph=True)
    try:
        assert engine.runtime == "onnxruntime" and graph.exists()
        batch = pixels(5, 32)
        rows = engine.predict(batch)
        probabilities, embeddings = probabilities_and_embeddings(loaded, batch)
        np.testing.assert_allclose(rows.probabilities, probabilities, atol=1e-5)
        np.testing.assert_allclose(rows.embeddings, embeddings, atol=1e-4)
        assert rows.share_ms > 0
    finally:
        engine.close()
    # The next process finds the graph kept and loads it without exporting again.
    written = graph.stat().st_mtime_ns
    again = Engine(loaded, onnx_path=graph)
    assert again.runtime == "onnxruntime" and graph.stat().st_mtime_ns == written
    again.close()


def test_torch_runs_the_model_where_the_graph_cannot_be_made(tmp_path, caplog):
    loaded = saved(tmp_path, "small-cnn")
    blocked = tmp_path / "a-file"
    blocked.write_text("not a folder")
    engine = Engine(loaded, onnx_path=blocked / "m.onnx", wait_for_graph=True)
    try:
        assert engine.runtime == "torch"
        assert "could not be made" in caplog.text
        batch = pixels(2)
        expected, _ = probabilities_and_embeddings(loaded, batch)
        np.testing.assert_allclose(engine.predict(batch).probabilities, expected, atol=1e-6)
    finally:
        engine.close()


class Gate:
    """A forward pass that holds its first batch until opened; each row's outputs are its
    images' first pixel, so a caller can tell its own rows."""

    def __init__(self) -> None:
        self.entered = threading.Event()
        self.open = threading.Event()
        self.sizes: list[int] = []
        self.threads: list[str] = []

    def __call__(self, batch: torch.Tensor) -> tuple[np.ndarray, np.ndarray]:
        self.sizes.append(len(batch))
        self.threads.append(threading.current_thread().name)
        self.entered.set()
        self.open.wait(10)
        first = batch[:, 0, 0, 0].numpy().astype(np.float32)
        return first[:, None], first[:, None] * 2


def marked(value: int, count: int = 1) -> torch.Tensor:
    return torch.full((count, 1, 2, 2), value, dtype=torch.uint8)


def test_requests_that_arrive_while_a_batch_runs_run_together_next():
    gate = Gate()
    batcher = Batcher(gate, max_batch=8)
    try:
        first = batcher.submit(marked(1))
        assert gate.entered.wait(5)
        # Five requests (7 images) arrive while the first runs; a sixth would pass 8 images.
        waiting = [batcher.submit(marked(10 + n, 2 if n < 2 else 1)) for n in range(5)]
        last = batcher.submit(marked(99, 3))
        gate.open.set()
        assert first.result(5).probabilities.tolist() == [[1.0]]
        for n, future in enumerate(waiting):
            rows = future.result(5)
            count = 2 if n < 2 else 1
            assert rows.probabilities.tolist() == [[10.0 + n]] * count
            assert rows.embeddings.tolist() == [[2 * (10.0 + n)]] * count
        assert last.result(5).probabilities.tolist() == [[99.0]] * 3
        assert gate.sizes == [1, 7, 3]
        assert (batcher.runs, batcher.images) == (3, 11)
    finally:
        gate.open.set()
        batcher.close()


def test_a_request_that_finds_the_model_idle_runs_on_its_callers_thread_and_the_others_wait():
    gate = Gate()
    batcher = Batcher(gate, max_batch=8)
    answers: dict[int, list[list[float]]] = {}

    def ask(value: int, count: int = 1) -> None:
        answers[value] = batcher.run(marked(value, count)).probabilities.tolist()

    first = threading.Thread(target=ask, args=(1,), name="caller-1")
    try:
        first.start()
        assert gate.entered.wait(5)
        # Three requests arrive while the first holds the model on its caller's thread.
        others = [threading.Thread(target=ask, args=(v, 2)) for v in (2, 3, 4)]
        for thread in others:
            thread.start()
        deadline = time.monotonic() + 5
        while batcher._waiting_images() < 6 and time.monotonic() < deadline:
            time.sleep(0.01)
        gate.open.set()
        for thread in (first, *others):
            thread.join(5)
        assert answers == {1: [[1.0]], 2: [[2.0]] * 2, 3: [[3.0]] * 2, 4: [[4.0]] * 2}
        # The first ran where it was asked; the three waiting ran together after it.
        assert gate.sizes == [1, 6]
        assert gate.threads == ["caller-1", "labeler-batcher"]
        # Idle again (the batcher's thread marks the model free just after it answers its
        # callers): the next request runs on its own thread, its error raised there.
        deadline = time.monotonic() + 5
        while batcher._busy and time.monotonic() < deadline:
            time.sleep(0.01)
        assert batcher.run(marked(5)).probabilities.tolist() == [[5.0]]
        assert gate.threads[-1] == threading.current_thread().name
        with pytest.raises(ValueError, match="from 1 to 8"):
            batcher.run(marked(6, 9))
        assert (batcher.runs, batcher.images) == (3, 8)
    finally:
        gate.open.set()
        batcher.close()


def test_a_failed_batch_fails_each_of_its_callers_and_the_next_one_runs():
    calls = []

    def forward(batch: torch.Tensor) -> tuple[np.ndarray, np.ndarray]:
        calls.append(len(batch))
        if len(calls) == 1:
            raise RuntimeError("out of memory")
        return np.zeros((len(batch), 1)), np.zeros((len(batch), 1))

    batcher = Batcher(forward, max_batch=4)
    try:
        with pytest.raises(RuntimeError, match="out of memory"):
            batcher.submit(marked(1)).result(5)
        assert batcher.submit(marked(2, 2)).result(5).probabilities.shape == (2, 1)
        # On the caller's thread too: the error is the caller's, and the model is free after.
        calls.clear()
        with pytest.raises(RuntimeError, match="out of memory"):
            batcher.run(marked(1))
        assert batcher.run(marked(2, 2)).probabilities.shape == (2, 1)
        with pytest.raises(ValueError, match="from 1 to 4"):
            batcher.submit(marked(3, 5))
    finally:
        batcher.close()


def test_a_closed_batcher_runs_what_waits_then_ends_and_a_late_request_runs_alone():
    gate = Gate()
    batcher = Batcher(gate, max_batch=4)
    first = batcher.submit(marked(1))
    assert gate.entered.wait(5)
    second = batcher.submit(marked(2))
    batcher.close()
    gate.open.set()
    assert first.result(5).probabilities.tolist() == [[1.0]]
    assert second.result(5).probabilities.tolist() == [[2.0]]
    batcher._thread.join(5)
    assert not batcher._thread.is_alive()
    # A request that took the model before it was evicted still gets its answer.
    late = batcher.submit(marked(3, 2))
    assert late.done() and late.result().probabilities.tolist() == [[3.0], [3.0]]
    assert gate.sizes == [1, 1, 2]


def test_with_a_delay_a_lone_request_waits_for_company():
    gate = Gate()
    gate.open.set()
    batcher = Batcher(gate, max_batch=4, delay=0.3)
    try:
        futures = [batcher.submit(marked(1))]
        futures.append(batcher.submit(marked(2)))
        assert [f.result(5).probabilities.tolist() for f in futures] == [[[1.0]], [[2.0]]]
        assert gate.sizes == [2]
    finally:
        batcher.close()
