"""A model card (``labeler.predictions.model_card``) written out as Markdown for people."""

from __future__ import annotations

from typing import Any

from labeler.predictions.training_config import PER_ARCHITECTURE
from labeler.words import counted


def _number(value: Any, digits: int = 3) -> str:
    return "n/a" if value is None else f"{value:.{digits}f}"


def _figure(figure: dict[str, Any]) -> str:
    if figure.get("value") is None:
        return f"n/a ({figure.get('reason') or 'cannot be computed'}; n = {figure.get('n')})"
    interval = figure.get("interval")
    spread = f" [{_number(interval[0])}, {_number(interval[1])}]" if interval else ""
    return f"{_number(figure['value'])}{spread} (n = {figure.get('n')})"


def _escape(text: object) -> str:
    """Text for a table cell: no pipe or line break can break the table."""
    return str(text).replace("|", "\\|").replace("\n", " ")


def card_markdown(card: dict[str, Any]) -> str:
    """The card as a Markdown document."""
    model = card["model"]
    parts = [
        f"# Model card: {_escape(model['project'])}, version {model['version']}",
        "",
        f"Architecture **{_architecture_name(model['architecture'])}**, "
        f"trained {model['trained_at']}, "
        f"packaged {model['packaged_at']}. "
        + ("Multi-label (sigmoid per label)." if card["multi_label"] else "Single label."),
        "",
        *_labels(card),
        *_io(card),
        *_training(card["training_data"]),
        *_metrics(card["test_metrics"]),
        *_slices(card["weak_slices"]),
        "## Intended use",
        "",
        card["intended_use"],
        "",
        *_files(card),
    ]
    return "\n".join(parts) + "\n"


def _labels(card: dict[str, Any]) -> list[str]:
    rows = ["## Labels (output index -> name)", "", "| index | label |", "| --- | --- |"]
    rows += [f"| {label['index']} | {_escape(label['name'])} |" for label in card["labels"]]
    if card.get("thresholds"):
        rows += ["", "Decision thresholds (a label is given at or above its threshold):", ""]
        rows += [f"- {_escape(name)}: {t:.3f}" for name, t in card["thresholds"].items()]
    return [*rows, ""]


def _io(card: dict[str, Any]) -> list[str]:
    pre, given, out = card["preprocessing"], card["input"], card["output"]
    norm = pre["normalisation"]
    shape = ", ".join(str(s) for s in given["shape"])
    return [
        "## Input and preprocessing",
        "",
        f"- Input `{given['name']}`: {given['dtype']} {given['layout']} ({shape}), values 0 to "
        f"255, {given['colour']}.",
        f"- Output `{out['name']}`: {out['dtype']} ({', '.join(str(s) for s in out['shape'])}), "
        f"{out['activation']}.",
        f"- Image size {pre['image_size']} x {pre['image_size']}, "
        f"{counted(pre['channels'], 'channel')}, "
        f"colour order {pre['colour_order']}.",
        f"- Resize: {pre['resize']}",
        f"- Normalisation ({norm['applied']}): mean {norm['mean']}, std {norm['std']}. Do "
        "not normalise the pixels yourself.",
        "",
    ]


def _training(training: dict[str, Any]) -> list[str]:
    digest = training.get("content_hash")
    return [
        "## Training data",
        "",
        f"- Final-label set: {training['images']} images ({training['trained']} trained on, "
        f"{training['validated']} for validation), trained {training['date']}.",
        f"- Content hash: `{digest}`" if digest else f"- Content hash: n/a ({training['reason']})",
        f"- {training['hash_method']}",
        "",
    ]


def _metrics(test: dict[str, Any]) -> list[str]:
    rows = ["## Metrics on the held-out test images", ""]
    if test.get("figures") is None:
        return [*rows, f"None: {test['reason']}", ""]
    level = test.get("interval_level")
    rows += [
        f"{test['images']} test images; intervals at {level} "
        f"({'; '.join(f'{k}: {v}' for k, v in (test.get('interval_methods') or {}).items())}).",
        "",
        "| figure | value [interval] (n) |",
        "| --- | --- |",
    ]
    rows += [f"| {name} | {_figure(figure)} |" for name, figure in test["figures"].items()]
    rows += ["", "| label | support | precision | recall | F1 |", "| --- | --- | --- | --- | --- |"]
    for row in test.get("per_label", []):
        cells = [_figure(row[k]) if k in row else "n/a" for k in ("precision", "recall", "f1")]
        rows.append(f"| {_escape(row['label'])} | {row['support']} | {' | '.join(cells)} |")
    return [*rows, ""]


def _slices(weak: dict[str, Any]) -> list[str]:
    rows = ["## Known weak slices", ""]
    if not weak.get("slices"):
        return [*rows, f"None known: {weak['reason']}", ""]
    for found in weak["slices"]:
        words = f": {_escape(found['words'])}" if found.get("words") else ""
        rows.append(f"- {_escape(found['dimension'])} = {_escape(found['slice'])}{words}")
    return [*rows, ""]


def _files(card: dict[str, Any]) -> list[str]:
    latency = card["cpu_latency_batch_1"]
    rows = ["## Files", "", "| file | bytes | sha256 |", "| --- | --- | --- |"]
    for found in card["files"].values():
        rows.append(f"| {found['name']} | {found['bytes']} | `{found['sha256']}` |")
    rows += [
        "",
        "## CPU latency, batch 1",
        "",
        f"Measured when packaged: median of {latency['runs']} runs on "
        f"{counted(latency['threads'], 'thread')} of a {latency['cpu_count']}-core machine: "
        "ONNX Runtime "
        f"{latency['onnxruntime_ms']:.2f} ms, TorchScript {latency['torchscript_ms']:.2f} ms.",
    ]
    return rows


def _architecture_name(key: str) -> str:
    """ "Small CNN (small-cnn)": the name the pages give it, and the key the files carry."""
    known = PER_ARCHITECTURE.get(key)
    return f"{known.label} ({key})" if known else key
