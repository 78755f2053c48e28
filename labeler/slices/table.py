"""The slice report as a table: one row for the whole project, then one per slice.

What the CSV download holds (the faces write it, each cell made safe for spreadsheets by
the exports' rule). Figures are plain numbers, blank where undefined; words and reasons
stay beside them so that a row reads on its own.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

FIGURE_PARTS = ("value", "ci_low", "ci_high", "n_items")
TEST_PARTS = ("p_value", "p_adjusted", "flagged", "effect", "words", "reason")


def report_header(report: dict[str, Any]) -> list[str]:
    """The table's column names (one count column per label, by name)."""
    return [
        "dimension",
        "slice",
        "value",
        "images",
        "final_labelled",
        *(f"count:{label['name']}" for label in report["labels"]),
        *(f"mix_{part}" for part in TEST_PARTS),
        *(f"kappa_{part}" for part in FIGURE_PARTS),
        *(f"rest_kappa_{part}" for part in FIGURE_PARTS),
        *(f"labels_{part}" for part in TEST_PARTS),
        *(f"final_agreement_{part}" for part in FIGURE_PARTS),
        *(f"accuracy_{part}" for part in FIGURE_PARTS),
        *(f"rest_accuracy_{part}" for part in FIGURE_PARTS),
        *(f"macro_f1_{part}" for part in FIGURE_PARTS),
        "rest_macro_f1_value",
        *(f"model_{part}" for part in TEST_PARTS),
    ]


def report_rows(report: dict[str, Any]) -> Iterator[list[Any]]:
    """The rows under ``report_header``: the whole project first, then every slice."""
    overall = report["overall"]
    yield [
        "",
        "All images",
        "",
        overall["n_images"],
        overall["n_final"],
        *overall["counts"],
        *[""] * len(TEST_PARTS),
        *_figure(overall["kappa"]),
        *[""] * len(FIGURE_PARTS),
        *[""] * len(TEST_PARTS),
        *_figure(overall["final_agreement"]),
        *_model_overall(report["model"]),
    ]
    for dimension in report["dimensions"]:
        for part in dimension["slices"]:
            labels = part["labels"]
            yield [
                dimension["key"],
                part["name"],
                part["value"],
                part["n_images"],
                part["n_final"],
                *part["counts"],
                *_test(part["mix"]),
                *_figure(labels["kappa"]),
                *_figure(labels["rest_kappa"]),
                *_test(labels["test"]),
                *_figure(labels["final_agreement"]),
                *_model(part["model"]),
            ]


def _model_overall(model: dict[str, Any]) -> list[Any]:
    if model["version"] is None:
        return [""] * _MODEL_WIDTH
    return [
        *_figure(model["accuracy"]),
        *[""] * len(FIGURE_PARTS),
        *_figure(model["macro_f1"]),
        "",
        *[""] * len(TEST_PARTS),
    ]


def _model(model: dict[str, Any] | None) -> list[Any]:
    if model is None:
        return [""] * _MODEL_WIDTH
    return [
        *_figure(model["accuracy"]),
        *_figure(model["rest_accuracy"]),
        *_figure(model["macro_f1"]),
        _blank(model["rest_macro_f1"]["value"]),
        *_test(model["test"]),
    ]


_MODEL_WIDTH = 3 * len(FIGURE_PARTS) + 1 + len(TEST_PARTS)


def _figure(figure: dict[str, Any]) -> list[Any]:
    return [_blank(figure.get(part)) for part in FIGURE_PARTS]


def _test(test: dict[str, Any]) -> list[Any]:
    return [_blank(test.get(part)) for part in TEST_PARTS]


def _blank(value: Any) -> Any:
    return "" if value is None else value
