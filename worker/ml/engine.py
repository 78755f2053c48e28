"""How a served model runs: ONNX Runtime on the CPU, torch on a GPU, concurrent requests
batched together.

An ``Engine`` stands in front of a loaded model for the prediction API. On the CPU it
runs the model through ONNX Runtime, which ran the small CNN (at 64 px) and ResNet-18 at
batch 64 1.6 to 2.3 times as fast as torch's eager forward on the development machine,
with the same probabilities to 1e-6: the graph it runs takes uint8 pixels and gives the
probabilities and the penultimate layer's embedding (``ServedGraph``); it is exported once
per weights file, in a thread beside the serving, and kept in a folder by the file's sha256, so the
next process only loads it. Until it is ready, on a GPU, and wherever the export fails
(logged), torch runs the model.

Requests that arrive while a batch runs are run together next (a dynamic batcher, as
Triton's and TorchServe's): one thread per served model (``Batcher``) takes every request
waiting, up to ``max_batch`` images, runs them in one forward pass and hands each caller
its own rows, with its share of the batch's time. A request that finds the model idle
runs at once, on its caller's own thread (``Batcher.run``: no hand-over to the batcher's
thread and back); the requests that arrive meanwhile wait for it and run together next.
With ``delay`` (seconds; 0 by default) every request goes through the thread, which waits
that long for more before a batch that is not full, trading a lone request's latency for
fuller batches.
"""

from __future__ import annotations

import copy
import io
import logging
import threading
import time
import warnings
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from worker.ml.anatomy import classifier_layer, probabilities_and_embeddings
from worker.ml.weights import LoadedModel, write_atomically

logger = logging.getLogger(__name__)

INPUT_NAME = "pixels"
OUTPUT_NAMES = ["probabilities", "embeddings"]
OPSET = 18
MAX_BATCH = 4096  # the exported graph's largest batch
# In the kept graphs' file names: a change to ``ServedGraph`` bumps it, so no process
# loads a graph exported by the older code.
GRAPH_VERSION = 1

Forward = Callable[[torch.Tensor], tuple[np.ndarray, np.ndarray]]


class ServedGraph(nn.Module):
    """The network with its input scaling and output activation, giving the embedding too:
    uint8 pixels (N, C, H, W) in; probabilities (N, L) and the classifier layer's input
    (N, D) out, as ``anatomy.probabilities_and_embeddings`` computes them."""

    mean: torch.Tensor
    std: torch.Tensor

    def __init__(self, loaded: LoadedModel) -> None:
        super().__init__()
        # A copy on the CPU: the loaded model stays as it is, for torch's own use.
        body = copy.deepcopy(loaded.model).to("cpu").to(memory_format=torch.contiguous_format)
        head = classifier_layer(body)
        for name, module in body.named_modules():
            if module is head:
                parent, _, attribute = name.rpartition(".")
                setattr(body.get_submodule(parent) if parent else body, attribute, nn.Identity())
                break
        self.body, self.head = body.eval(), head.eval()
        normalisation = loaded.meta["normalisation"]
        # (x / 255 - mean) / std, in one subtraction and one division, as
        # ``worker.ml.data.to_model_input`` does it to float precision.
        self.register_buffer("mean", torch.tensor(normalisation["mean"]).view(1, -1, 1, 1) * 255.0)
        self.register_buffer("std", torch.tensor(normalisation["std"]).view(1, -1, 1, 1) * 255.0)
        self.multi = bool(loaded.meta["multi_label"])

    def forward(self, pixels: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        embeddings = self.body((pixels.float() - self.mean) / self.std)
        logits = self.head(embeddings).float()
        probabilities = torch.sigmoid(logits) if self.multi else torch.softmax(logits, 1)
        return probabilities, embeddings.float()


def graph_name(sha256: str) -> str:
    """The kept graph's file name for a weights file's sha256."""
    return f"{sha256}-v{GRAPH_VERSION}.onnx"


def served_onnx(graph: ServedGraph, meta: dict[str, Any]) -> bytes:
    """The graph as an ONNX file's bytes, the batch axis dynamic.

    Exported by tracing (half a second for ResNet-18 on the development machine), else,
    where that fails or torch no longer has it, by ``torch.export`` (six to ten seconds).
    """
    size, channels = int(meta["image_size"]), int(meta["channels"])
    example = torch.zeros((2, channels, size, size), dtype=torch.uint8)  # 1 would fix the axis
    graph = graph.eval()
    buffer = io.BytesIO()
    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore")  # the notice that torch.export is the newer way
        try:
            torch.onnx.export(
                graph, (example,), buffer,  # type: ignore[arg-type]  # a file object too
                dynamo=False, input_names=[INPUT_NAME], output_names=OUTPUT_NAMES,
                dynamic_axes={INPUT_NAME: {0: "batch"}}, opset_version=OPSET,
            )  # fmt: skip
            return buffer.getvalue()
        except Exception:
            logger.info("Tracing the served graph failed; exporting it by torch.export")
        batch = torch.export.Dim("batch", min=1, max=MAX_BATCH)
        program = torch.onnx.export(
            graph, (example,), dynamo=True, input_names=[INPUT_NAME],
            output_names=OUTPUT_NAMES, dynamic_shapes={INPUT_NAME: {0: batch}},
            opset_version=OPSET, optimize=True, verbose=False,
        )  # fmt: skip
    assert program is not None
    buffer = io.BytesIO()
    program.save(buffer)  # type: ignore[arg-type]  # save writes to a file object too
    return buffer.getvalue()


def onnx_file(loaded: LoadedModel, path: Path, lock: threading.Lock | None = None) -> Path:
    """The served graph's ONNX file at ``path``, exported and written there if missing.
    ``lock``: held while the model is copied (torch's forward pass hooks its layers)."""
    if not path.exists():
        with lock or threading.Lock():
            graph = ServedGraph(loaded)
        write_atomically(path, served_onnx(graph, loaded.meta))
    return path


def onnx_session(path: Path, threads: int) -> object:
    """An ONNX Runtime session on the CPU with ``threads`` intra-op threads that sleep
    between batches (spinning would take the cores the requests decode on)."""
    import onnxruntime

    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = max(1, threads)
    options.inter_op_num_threads = 1
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    return onnxruntime.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])


@dataclass(frozen=True)
class Rows:
    """One request's part of a batch: its probabilities (n, L), embeddings (n, D), and
    its images' share each of the batch's forward time (ms)."""

    probabilities: np.ndarray
    embeddings: np.ndarray
    share_ms: float


class Engine:
    """A served model: ONNX Runtime on the CPU once its graph is ready, torch until then
    and on other devices; requests batched by a ``Batcher``."""

    def __init__(
        self,
        loaded: LoadedModel,
        *,
        onnx_path: Path | None = None,
        max_batch: int = 64,
        delay: float = 0.0,
        wait_for_graph: bool = False,
    ) -> None:
        self.loaded = loaded
        self.max_batch = max_batch
        self._session: object | None = None
        self._torch_lock = threading.Lock()  # torch's forward hooks the model; a copy reads it
        self.batcher = Batcher(self._forward, max_batch=max_batch, delay=delay)
        if onnx_path is not None and loaded.device.type == "cpu":
            if wait_for_graph or onnx_path.exists():
                self._prepare(onnx_path)
            else:
                threading.Thread(
                    target=self._prepare, args=(onnx_path,), name="labeler-onnx-export",
                    daemon=True,
                ).start()  # fmt: skip

    @property
    def runtime(self) -> str:
        """What runs the model now: "onnxruntime" or "torch"."""
        return "onnxruntime" if self._session is not None else "torch"

    def predict(self, pixels: torch.Tensor) -> Rows:
        """The model's outputs for uint8 pixels (n <= ``max_batch``), batched with whatever
        other requests are waiting."""
        return self.batcher.run(pixels)

    def close(self) -> None:
        """End the batcher's thread once the requests already waiting have run."""
        self.batcher.close()

    def _prepare(self, path: Path) -> None:
        try:
            graph = onnx_file(self.loaded, path, self._torch_lock)
            session = onnx_session(graph, torch.get_num_threads())
        except Exception:
            logger.exception("The served model's ONNX graph could not be made; torch runs it")
            return
        self._session = session

    def _forward(self, pixels: torch.Tensor) -> tuple[np.ndarray, np.ndarray]:
        session = self._session
        if session is None:
            with self._torch_lock:
                return probabilities_and_embeddings(self.loaded, pixels)
        array = pixels.numpy() if pixels.device.type == "cpu" else pixels.cpu().numpy()
        probabilities, embeddings = session.run(OUTPUT_NAMES, {INPUT_NAME: array})  # type: ignore[attr-defined]
        return np.asarray(probabilities), np.asarray(embeddings)


@dataclass
class _Waiting:
    pixels: torch.Tensor
    future: Future[Rows]


class Batcher:
    """Runs the requests of one model in batches on a thread of its own (see the module).

    ``runs`` and ``images`` count the forward passes and the images they took: fewer runs
    than requests means requests were batched together.
    """

    def __init__(self, forward: Forward, *, max_batch: int, delay: float = 0.0) -> None:
        self._forward = forward
        self.max_batch = max_batch
        self.delay = delay
        self._waiting: deque[_Waiting] = deque()
        self._condition = threading.Condition()
        self._closed = False
        self._busy = False  # a forward pass is running, on the thread or a caller's
        self.runs = 0
        self.images = 0
        self._thread = threading.Thread(target=self._loop, name="labeler-batcher", daemon=True)
        self._thread.start()

    def submit(self, pixels: torch.Tensor) -> Future[Rows]:
        """Queue a request's pixels (at most ``max_batch`` images); its rows come back
        through the future (or what the forward pass raised). Once closed (the model was
        evicted while a request still held it) a request runs alone, on its own thread."""
        if not 0 < len(pixels) <= self.max_batch:
            raise ValueError(f"A request of {len(pixels)} images; from 1 to {self.max_batch}.")
        future: Future[Rows] = Future()
        with self._condition:
            if not self._closed:
                self._waiting.append(_Waiting(pixels, future))
                self._condition.notify()
                return future
        future.set_running_or_notify_cancel()
        self._run([_Waiting(pixels, future)])
        return future

    def run(self, pixels: torch.Tensor) -> Rows:
        """A request's rows, waited for. With the model idle and nothing waiting (and no
        ``delay``) the pass runs here, on the caller's thread, while the requests that
        arrive meanwhile queue for the batcher's thread; otherwise as ``submit``."""
        if not 0 < len(pixels) <= self.max_batch:
            raise ValueError(f"A request of {len(pixels)} images; from 1 to {self.max_batch}.")
        with self._condition:
            alone = not (self._busy or self._waiting or self._closed or self.delay > 0)
            self._busy = self._busy or alone
        if not alone:
            return self.submit(pixels).result()
        future: Future[Rows] = Future()
        future.set_running_or_notify_cancel()
        try:
            self._run([_Waiting(pixels, future)])
        finally:
            self._idle()
        return future.result()

    def close(self) -> None:
        with self._condition:
            self._closed = True
            self._condition.notify_all()

    def _idle(self) -> None:
        """The pass is over: the batcher's thread may take what waits."""
        with self._condition:
            self._busy = False
            self._condition.notify_all()

    def _waiting_images(self) -> int:
        return sum(len(item.pixels) for item in self._waiting)

    def _take(self) -> list[_Waiting] | None:
        with self._condition:
            self._condition.wait_for(lambda: (self._waiting and not self._busy) or self._closed)
            if not self._waiting:
                return None  # closed, and nothing left to run
            if self.delay > 0 and not self._closed:
                self._condition.wait_for(
                    lambda: self._waiting_images() >= self.max_batch or self._closed,
                    timeout=self.delay,
                )
            taken = [self._waiting.popleft()]
            count = len(taken[0].pixels)
            while self._waiting and count + len(self._waiting[0].pixels) <= self.max_batch:
                item = self._waiting.popleft()
                taken.append(item)
                count += len(item.pixels)
            self._busy = True
            return taken

    def _loop(self) -> None:
        while (taken := self._take()) is not None:
            taken = [item for item in taken if item.future.set_running_or_notify_cancel()]
            try:
                if taken:
                    self._run(taken)
            finally:
                self._idle()

    def _run(self, taken: list[_Waiting]) -> None:
        """One forward pass of the taken requests; each future gets its rows or the error."""
        parts = [item.pixels for item in taken]
        pixels = parts[0] if len(parts) == 1 else torch.cat(parts)
        began = time.perf_counter()
        try:
            probabilities, embeddings = self._forward(pixels)
        except BaseException as exc:  # every caller of the batch hears of it
            for item in taken:
                item.future.set_exception(exc)
            return
        share = (time.perf_counter() - began) * 1000 / len(pixels)
        self.runs += 1
        self.images += len(pixels)
        first = 0
        for item in taken:
            rows = slice(first, first + len(item.pixels))
            item.future.set_result(Rows(probabilities[rows], embeddings[rows], share))
            first = rows.stop
