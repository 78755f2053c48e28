"""Heat maps in the prediction API's answers: why the model chose a label, per image.

Glue between ``worker.serving`` (the answers, the images' bytes) and
``worker.ml.explain`` (Grad-CAM over arrays). Each image is decoded as the model takes it
(``worker.ml.data.decode_bytes``, as for its prediction) and, for the overlay, through the
one decoder at a bounded size (``DISPLAY_SIZE`` on its longest side, turned upright);
the overlay comes back inline as a PNG data URL. Nothing is kept: an upload the caller did
not ask to keep leaves no trace but its logged prediction.
"""

from __future__ import annotations

import base64
import time
from collections.abc import Sequence
from typing import Any

import numpy as np

from labeler.images.pixels.decoding import image_decode_reduced_upright
from worker.ml.data import DECODE_ERRORS, BadImage, Opener, decode_bytes
from worker.ml.explain import explain, overlay_png
from worker.ml.weights import LoadedModel

# The overlay's longest side at most: large enough to see where the map lies, small
# enough that sixteen of them inline stay a few megabytes of JSON.
DISPLAY_SIZE = 512


def explanations_add(
    loaded: LoadedModel,
    predictions: Sequence[dict[str, Any]],
    opener: Opener,
    *,
    label_id: int | None,
) -> None:
    """Add ``explanation`` to each answer (the n-th opened by ``opener(str(n))``): the map
    of ``label_id`` (None: the image's most probable label) by the unfused ``loaded``."""
    for position, answer in enumerate(predictions):
        if "error" in answer:
            continue
        with opener(str(position)) as handle:
            content = handle.read()
        answer["explanation"] = explanation_answer(loaded, content, answer, label_id=label_id)


def explanation_answer(
    loaded: LoadedModel, content: bytes, answer: dict[str, Any], *, label_id: int | None
) -> dict[str, Any]:
    """The label explained (id, name, its probability in ``answer``) and its heat map over
    the image as a PNG data URL with its size; ``{"error"}`` when the image cannot be
    decoded for it."""
    began = time.perf_counter()
    rows = answer["probabilities"]
    if label_id is None:
        label_id = int(max(rows, key=lambda row: row["probability"])["label_id"])
    row = next(row for row in rows if row["label_id"] == label_id)
    label_ids = [int(label) for label in loaded.meta["label_ids"]]
    try:
        pixels = decode_bytes(
            answer["name"],
            content,
            image_size=loaded.meta["image_size"],
            grayscale=loaded.meta["grayscale"],
        )
        heat = explain(loaded, pixels, label_ids.index(label_id)).heat
        display = np.asarray(image_decode_reduced_upright(content, DISPLAY_SIZE))
    except (BadImage, *DECODE_ERRORS) as exc:
        return {"label_id": label_id, "error": f"No heat map: {exc}."}
    png = overlay_png(display, heat)
    return {
        "label_id": label_id,
        "label": row["label"],
        "probability": row["probability"],
        "overlay": "data:image/png;base64," + base64.b64encode(png).decode(),
        "width": int(display.shape[1]),
        "height": int(display.shape[0]),
        "duration_ms": round((time.perf_counter() - began) * 1000, 3),
    }
