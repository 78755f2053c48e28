"""A packaged model version's card: what it takes, what it gives, what it learnt from and
how well it does, as JSON and as Markdown (pure: plain data in, text out).

The card names no person and no image: labels by their names, the training data by its
size and a hash of (image content hash, labels) pairs, slices by their values. The
annotator slices are left out of its weak slices, as their values are user names.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Sequence
from typing import Any

CARD_FORMAT = 1
RESIZE = (
    "Decode the file, turn it upright as its EXIF orientation says, convert it to RGB "
    "(Pillow mode 'RGB'; grayscale models: mode 'L'), then squash it to image_size x "
    "image_size with Pillow's bilinear filter (Image.resize(..., Image.BILINEAR, "
    "reducing_gap=2.0)); the aspect ratio is not kept and nothing is cropped. The server "
    "decodes large JPEG files at a reduced scale first (Pillow's draft), which changes "
    "pixel values by a level or two at most."
)
INTENDED_USE = (
    "Classifying images like those of the project it was trained on, into its labels only. "
    "It has never seen images unlike them: its probabilities on other kinds of images "
    "(another camera, subject or setting) are not to be trusted without checking them on "
    "labelled images of that kind first. It is not meant for decisions about people."
)
# Slice dimensions whose values name people (the annotators): never on a card.
PERSONAL_DIMENSIONS = frozenset({"annotator"})
# Headline figures on the test images, in the card's order: (name, path in the scorecard).
HEADLINE = (
    ("accuracy", ("accuracy",)),
    ("macro_f1", ("macro_f1",)),
    ("micro_f1", ("micro_f1",)),
    ("roc_auc_macro", ("roc_auc", "macro")),
    ("average_precision_macro", ("average_precision", "macro")),
    ("expected_calibration_error", ("calibration", "ece")),
)


def training_hash(pairs: Iterable[tuple[str, Sequence[str]]]) -> str:
    """The sha256 (hex) of the training data as (image sha256, label names) pairs: one line
    ``<sha256>\\t<names sorted, joined by commas>\\n`` each, the lines sorted."""
    lines = sorted(f"{sha}\t{','.join(sorted(names))}\n" for sha, names in pairs)
    return hashlib.sha256("".join(lines).encode()).hexdigest()


def test_metrics(test: dict[str, Any] | None, label_names: dict[int, str]) -> dict[str, Any]:
    """The version's stored test figures, each with its interval and n; labels by name.

    ``figures`` is None with a ``reason`` where the version has no test figures."""
    if not test:
        return {
            "figures": None,
            "reason": "This version was scored on no held-out test images (the project had "
            "none when it was trained).",
        }
    figures = {}
    for name, path in HEADLINE:
        found: Any = test
        for key in path:
            found = found.get(key) if isinstance(found, dict) else None
        if isinstance(found, dict) and "value" in found:
            figures[name] = _figure(found)
    per_label = [
        {
            "label": label_names.get(row["label"], str(row["label"])),
            "support": row.get("support"),
            **{
                key: _figure(row[key])
                for key in ("precision", "recall", "f1")
                if isinstance(row.get(key), dict)
            },
        }
        for row in test.get("per_label", [])
    ]
    return {
        "images": test.get("images"),
        "interval_level": test.get("interval_level"),
        "interval_methods": test.get("interval_methods"),
        "figures": figures,
        "per_label": per_label,
        "reason": None,
    }


def _figure(figure: dict[str, Any]) -> dict[str, Any]:
    return {key: figure.get(key) for key in ("value", "interval", "n", "reason")}


def weak_slices(flags: list[dict[str, Any]] | None, reason: str = "") -> dict[str, Any]:
    """The slices the slice report flags the model as worse on than on the rest."""
    if flags is None:
        return {"slices": None, "reason": reason or "No slice report could be made."}
    slices = [
        {
            "dimension": flag["dimension_title"],
            "slice": flag["name"],
            "words": flag.get("words"),
            "p_adjusted": flag.get("p_adjusted"),
        }
        for flag in flags
        if flag.get("question") == "model" and flag.get("dimension") not in PERSONAL_DIMENSIONS
    ]
    reason = "" if slices else "The slice report flags no slice where the model does worse."
    return {"slices": slices, "reason": reason or None}


def card_json(
    *,
    facts: dict[str, Any],
    meta: dict[str, Any],
    label_names: dict[int, str],
    training: dict[str, Any],
    test: dict[str, Any],
    slices: dict[str, Any],
    files: dict[str, dict[str, Any]],
    latency: dict[str, Any],
) -> dict[str, Any]:
    """The card as a JSON-ready dict (``facts``: project, version, architecture, dates)."""
    labels = [label_names[int(pk)] for pk in meta["label_ids"]]
    channels = int(meta["channels"])
    return {
        "card_format": CARD_FORMAT,
        "model": {**facts, "architecture": meta["architecture"]},
        "labels": [{"index": i, "name": name} for i, name in enumerate(labels)],
        "multi_label": bool(meta["multi_label"]),
        "thresholds": _thresholds(meta, labels),
        "input": {
            "name": "pixels",
            "dtype": "uint8",
            "layout": "NCHW",
            "shape": ["batch", channels, meta["image_size"], meta["image_size"]],
            "range": [0, 255],
            "colour": "grayscale (one channel)" if channels == 1 else "RGB, in that order",
        },
        "output": {
            "name": "probabilities",
            "dtype": "float32",
            "shape": ["batch", len(labels)],
            "activation": "sigmoid, per label" if meta["multi_label"] else "softmax over labels",
        },
        "preprocessing": {
            "image_size": meta["image_size"],
            "channels": channels,
            "colour_order": "L" if channels == 1 else "RGB",
            "resize": RESIZE,
            "normalisation": {
                "mean": list(meta["normalisation"]["mean"]),
                "std": list(meta["normalisation"]["std"]),
                "applied": "inside the model: (pixels / 255 - mean) / std per channel",
            },
        },
        "training_data": training,
        "test_metrics": test,
        "weak_slices": slices,
        "intended_use": INTENDED_USE,
        "files": files,
        "cpu_latency_batch_1": latency,
    }


def _thresholds(meta: dict[str, Any], labels: list[str]) -> dict[str, float] | None:
    thresholds = meta.get("thresholds")
    if not meta["multi_label"] or not thresholds:
        return None
    return {name: float(t) for name, t in zip(labels, thresholds, strict=True)}


def card_text(card: dict[str, Any]) -> str:
    """The card as JSON text (sorted keys: the same card is the same bytes)."""
    return json.dumps(card, indent=2, sort_keys=True) + "\n"
