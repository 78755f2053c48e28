"""The slice report of a project: label counts and imbalance, then per slice of every
dimension its label mix, its agreement and its model figures against the rest, with flags.

Reports are cached under a watermark of what they read (label changes, which every
annotation and final label leaves; the images; the model version), as the agreement
report is, so page views and downloads reuse one until something changes. An edit of an
image's camera, licence or tags leaves no watermark (counting tags through the images cost
more than the rest of a cached read at 100,000 images), so a cached report also expires
after ``CACHE_SECONDS``. Readers get the report as computed within the last
``RECENT_SECONDS`` (``slice_report``), so labelling does not make every view compute it.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

import numpy as np
from django.db.models import Count, Max
from django.utils import timezone

from labeler import cache_keys
from labeler.agreement.final_labels import final_labels_fresh, label_changes
from labeler.agreement.metrics import Figure
from labeler.agreement.metrics.linearised import fleiss_kappa_within
from labeler.agreement.selectors import figure_json
from labeler.cached import cached
from labeler.images.models import Image, MetadataField
from labeler.predictions.models import ModelVersion, VersionTestOutputs
from labeler.predictions.selectors import current_model
from labeler.projects.models import Project
from labeler.slices import statistics
from labeler.slices.data import Mask, ProjectData, project_data
from labeler.slices.dimensions import (
    MAX_VALUES,
    SliceDimension,
    SliceValue,
    Sources,
    dimensions_for,
    largest,
)
from labeler.slices.model import ModelData, model_data, model_figures, model_test
from labeler.slices.statistics import Test

CACHE_SECONDS = 10 * 60
RECENT_SECONDS = 5 * 60
# Part of the cache key: a report of an older layout is not served once this changes.
REPORT_VERSION = 1
QUESTIONS = {
    "mix": "Label mix differs from the rest",
    "labels": "Labelled worse than the rest",
    "model": "Model worse than on the rest",
}


@dataclass
class SliceResult:
    """One slice's figures and tests, before its p-values are adjusted with the others'."""

    index: int  # among every slice of the report: its place in the adjusted p-values
    dimension: SliceDimension
    value: SliceValue
    n_final: int
    counts: np.ndarray
    tests: dict[str, Test]
    figures: dict[str, Any]


def slice_report(
    project: Project,
    *,
    version: ModelVersion | None = None,
    correction: str = statistics.DEFAULT_CORRECTION,
) -> dict[str, Any]:
    """The project's slice report as computed within the last ``RECENT_SECONDS``, else as
    of now (``slice_report_current``).

    While annotators label, every label changes the watermark: without this a lead's every
    view would compute the report afresh (seconds at 100,000 images, see
    docs/benchmarks.md). The report says when it was computed (``generated_at``).
    """
    choices = _choices(project, version, correction)
    key = cache_keys.slice_report_recent(project.pk, choices)
    return cached(
        key,
        lambda: slice_report_current(project, version=version, correction=correction),
        RECENT_SECONDS,
    )


def slice_report_current(
    project: Project,
    *,
    version: ModelVersion | None = None,
    correction: str = statistics.DEFAULT_CORRECTION,
) -> dict[str, Any]:
    """The project's slice report, cached until what it reads changes (see the module).

    The model's figures are ``version``'s, else the current version's.
    """
    final_labels_fresh(project=project)
    state = f"{_choices(project, version, correction)}:{_watermark(project, version)}"
    mark = hashlib.sha256(state.encode()).hexdigest()
    key = cache_keys.slice_report(project.pk, mark)
    return cached(
        key,
        lambda: slice_compute(project, version=version, correction=correction),
        CACHE_SECONDS,
    )


def _choices(project: Project, version: ModelVersion | None, correction: str) -> str:
    """What the report is asked for, beside the data: a digest of it. "The current
    version" names which one, so a recent report is not served once another is promoted;
    so do the project's fields."""
    if version is None:
        current = current_model(project)
        chosen = f"current:{current.pk if current is not None else None}"
    else:
        chosen = str(version.pk)
    # The project's own fields are dimensions: one added, renamed or removed is a new
    # report at once (a slice's link names the field).
    fields = list(
        MetadataField.objects.filter(project=project).order_by("pk").values_list("pk", "name")
    )
    state = f"{REPORT_VERSION}:{correction}:{chosen}:{timezone.get_current_timezone()}:{fields}"
    return hashlib.sha256(state.encode()).hexdigest()


def slice_compute(
    project: Project,
    *,
    version: ModelVersion | None = None,
    correction: str = statistics.DEFAULT_CORRECTION,
) -> dict[str, Any]:
    """Every figure of the report (call ``final_labels_fresh`` first)."""
    if correction not in statistics.CORRECTIONS:
        raise ValueError(f"correction must be one of {sorted(statistics.CORRECTIONS)}.")
    data = project_data(project)
    model, model_reason = model_data(project, version)
    sources = Sources(ratings=data.ratings, usernames=data.usernames)
    dimensions: list[tuple[SliceDimension, list[SliceResult], int, int]] = []
    results: list[SliceResult] = []
    for dimension in dimensions_for(project):
        values, left_out = largest(dimension.values(project, sources))
        found = [
            _slice_result(data, model, dimension, value, len(results) + i)
            for i, value in enumerate(values)
        ]
        dimensions.append((dimension, found, left_out, len(values) + left_out))
        results.extend(found)
    adjusted = _adjusted(results, correction)
    return {
        "project": project.pk,
        "multi_label": data.multi_label,
        "generated_at": timezone.now().isoformat(),
        "labels": [
            {"id": pk, "name": name}
            for pk, name in zip(data.label_ids, data.label_names, strict=True)
        ],
        "settings": {
            "alpha": statistics.ALPHA,
            "correction": statistics.CORRECTIONS[correction],
            "min_tested": statistics.MIN_TESTED,
            "max_values": MAX_VALUES,
        },
        "overall": _overall(project, data),
        "model": _model_json(model, model_reason),
        "dimensions": [
            {
                "key": dimension.key,
                "title": dimension.title,
                "help": dimension.help,
                "n_values": n_values,
                "left_out": left_out,
                "slices": [_slice_json(result, adjusted) for result in found],
            }
            for dimension, found, left_out, n_values in dimensions
        ],
        "flags": _flags(results, adjusted),
    }


def _overall(project: Project, data: ProjectData) -> dict[str, Any]:
    everyone = np.ones(data.finals.rows.ids.size, dtype=bool)
    counts = data.finals.counts(everyone, len(data.label_ids))
    imbalance = statistics.imbalance(counts, data.label_names)
    rated = np.ones(data.rated.ids.size, dtype=bool)
    return {
        "n_images": Image.objects.filter(project=project).count(),
        "n_final": int(everyone.size),
        "counts": counts.tolist(),
        "imbalance": {
            "level": imbalance.level,
            "rarest": None if imbalance.rarest is None else data.label_ids[imbalance.rarest],
            "rarest_share": imbalance.rarest_share,
            "ratio": imbalance.ratio,
            "words": imbalance.words,
        },
        "kappa": figure_json(fleiss_kappa_within(data.kappa_terms, data.kappa_mask(rated)).figure),
        "final_agreement": figure_json(_final_agreement(data, rated), kappa=False),
    }


def _slice_result(
    data: ProjectData,
    model: ModelData | None,
    dimension: SliceDimension,
    value: SliceValue,
    index: int,
) -> SliceResult:
    in_finals = data.finals.rows.mask(value.image_ids)
    n_labels = len(data.label_ids)
    inside = data.finals.counts(in_finals, n_labels)
    outside = data.finals.counts(~in_finals, n_labels)
    n_final = int(np.count_nonzero(in_finals))
    mix = statistics.label_mix_test(
        inside,
        outside,
        data.label_names,
        images=(n_final, int(in_finals.size) - n_final),
        multi_label=data.multi_label,
    )
    in_rated = data.rated.mask(value.image_ids)
    kappa_in = fleiss_kappa_within(data.kappa_terms, data.kappa_mask(in_rated))
    kappa_out = fleiss_kappa_within(data.kappa_terms, data.kappa_mask(~in_rated))
    result = SliceResult(
        index=index,
        dimension=dimension,
        value=value,
        n_final=n_final,
        counts=inside,
        tests={"mix": mix, "labels": statistics.kappa_difference_test(kappa_in, kappa_out)},
        figures={
            "kappa": kappa_in.figure,
            "rest_kappa": kappa_out.figure,
            "final_agreement": _final_agreement(data, in_rated),
            "rest_final_agreement": _final_agreement(data, ~in_rated),
        },
    )
    if model is not None:
        in_test = model.rows.mask(value.image_ids)
        result.tests["model"] = model_test(model, in_test)
        result.figures["model"] = model_figures(model, in_test)
        result.figures["rest_model"] = model_figures(model, ~in_test, intervals=False)
    return result


def _model_json(model: ModelData | None, reason: str) -> dict[str, Any]:
    """Which version the model's figures are of, and its figures on every test image."""
    if model is None:
        return {"version": None, "reason": reason, "n_test": 0}
    everything = model_figures(model, np.ones(model.rows.ids.size, dtype=bool))
    return {
        "version": {
            "id": model.version.pk,
            "version": model.version.version,
            "is_current": model.version.is_current,
        },
        "reason": None,
        "n_test": int(model.rows.ids.size),
        "accuracy": figure_json(everything.accuracy, kappa=False),
        "macro_f1": figure_json(everything.macro_f1, kappa=False),
    }


def _final_agreement(data: ProjectData, chosen: Mask) -> Figure:
    return statistics.ratio_within(data.final_matches, data.final_judged, chosen)


def _adjusted(results: list[SliceResult], correction: str) -> dict[str, list[float | None]]:
    """Each question's p-values, adjusted over every slice of every dimension together."""
    return {
        question: statistics.adjust([_p_value(r, question) for r in results], correction)
        for question in QUESTIONS
    }


def _p_value(result: SliceResult, question: str) -> float | None:
    test = result.tests.get(question)
    return None if test is None else test.p_value


def _slice_json(result: SliceResult, adjusted: dict[str, list[float | None]]) -> dict[str, Any]:
    tests = {q: _test_json(t, adjusted[q][result.index]) for q, t in result.tests.items()}
    figures = result.figures
    return {
        "value": result.value.value,
        "name": result.value.name,
        "browse": result.dimension.browse(result.value.value),
        "n_images": int(result.value.image_ids.size),
        "n_final": result.n_final,
        "counts": result.counts.tolist(),
        "mix": tests["mix"],
        "labels": {
            "kappa": figure_json(figures["kappa"]),
            "rest_kappa": figure_json(figures["rest_kappa"]),
            "final_agreement": figure_json(figures["final_agreement"], kappa=False),
            "rest_final_agreement": figure_json(figures["rest_final_agreement"], kappa=False),
            "test": tests["labels"],
        },
        "model": _slice_model_json(figures, tests.get("model")),
    }


def _slice_model_json(
    figures: dict[str, Any], test: dict[str, Any] | None
) -> dict[str, Any] | None:
    if test is None:
        return None
    here, rest = figures["model"], figures["rest_model"]
    return {
        "n_test": here.accuracy.n_items,
        "accuracy": figure_json(here.accuracy, kappa=False),
        "macro_f1": figure_json(here.macro_f1, kappa=False),
        "rest_accuracy": figure_json(rest.accuracy, kappa=False),
        "rest_macro_f1": figure_json(rest.macro_f1, kappa=False),
        "test": test,
    }


def _test_json(test: Test, p_adjusted: float | None) -> dict[str, Any]:
    return {
        "tested": test.p_value is not None,
        "p_value": test.p_value,
        "p_adjusted": p_adjusted,
        "flagged": statistics.flagged(p_adjusted),
        "method": test.method,
        "effect": test.effect,
        "effect_name": test.effect_name,
        "words": test.words,
        "reason": test.reason,
    }


def _flags(
    results: list[SliceResult], adjusted: dict[str, list[float | None]]
) -> list[dict[str, Any]]:
    """Every flag, the surest first: a slice and the question it is flagged on."""
    flags = []
    for result in results:
        for question, test in result.tests.items():
            p_adjusted = adjusted[question][result.index]
            if not statistics.flagged(p_adjusted):
                continue
            flags.append(
                {
                    "dimension": result.dimension.key,
                    "dimension_title": result.dimension.title,
                    "value": result.value.value,
                    "name": result.value.name,
                    "question": question,
                    "title": QUESTIONS[question],
                    "p_value": test.p_value,
                    "p_adjusted": p_adjusted,
                    "effect": test.effect,
                    "words": test.words,
                }
            )
    return sorted(flags, key=lambda flag: (flag["p_adjusted"], flag["dimension"], flag["name"]))


def _watermark(project: Project, version: ModelVersion | None) -> str:
    """A string that changes when the report's inputs change, but for metadata edits (see
    the module): every change of labels (annotations and final labels alike leave a label
    change, counted by one index-only aggregate), the images, the labels and the model."""
    model = version or current_model(project)
    scored = None
    if model is not None:
        scored = (
            VersionTestOutputs.objects.filter(model_version=model)
            .values_list("created_at", flat=True)
            .first()
        )
    parts = [
        None if model is None else model.pk,
        scored,
        label_changes(project),
        Image.objects.filter(project=project).aggregate(n=Count("id"), top=Max("id")),
        list(project.labels.order_by("position", "id").values_list("pk", "name")),
        project.multi_label,
    ]
    return repr(parts)
