"""What the API answers for one image, from the model's probabilities (pure)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

# A multi-label model without stored thresholds calls a label present from here.
DEFAULT_THRESHOLD = 0.5


def top_labels(
    probabilities: Sequence[float], *, multi_label: bool, thresholds: Sequence[float] | None
) -> list[int]:
    """Positions of the labels the model gives: the most probable one, or, multi-label,
    every label at or over its threshold (the version's own, else 0.5), most probable
    first."""
    if not probabilities:
        return []
    if not multi_label:
        return [max(range(len(probabilities)), key=lambda i: probabilities[i])]
    limits = list(thresholds) if thresholds else [DEFAULT_THRESHOLD] * len(probabilities)
    over = [i for i, p in enumerate(probabilities) if p >= limits[i]]
    return sorted(over, key=lambda i: -probabilities[i])


def prediction_answer(
    probabilities: Sequence[float],
    *,
    label_ids: Sequence[int],
    names: Mapping[int, str],
    multi_label: bool,
    thresholds: Sequence[float] | None,
) -> dict[str, Any]:
    """Each label's probability (by id and name) and the labels the model gives."""
    rows = [
        {"label_id": label_id, "label": names.get(label_id, ""), "probability": round(float(p), 6)}
        for label_id, p in zip(label_ids, probabilities, strict=True)
    ]
    top = top_labels(probabilities, multi_label=multi_label, thresholds=thresholds)
    return {"probabilities": rows, "top": [rows[i] for i in top]}
