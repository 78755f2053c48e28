"""The timed steps of the agreement benchmark, the scikit-learn reference and the table."""

from __future__ import annotations

import os
import platform
import time
from dataclasses import dataclass
from typing import Any

import numpy as np
from django.db import connection
from sklearn.metrics import cohen_kappa_score

from bench.timing import timed
from labeler.agreement.metrics import PairMatrix, cohen_kappa_matrix
from labeler.agreement.ratings import ratings_load
from labeler.agreement.selectors import agreement_compute, agreement_report
from labeler.projects.models import ConsensusMethod, Project

OURS = "agreement_compute (majority)"
OURS_PAIRS = "ours, pairwise kappas only"
REFERENCE = "reference: sklearn pair loop"


@dataclass(frozen=True)
class Step:
    """One timed step: its name, the median seconds of its runs, and a note."""

    name: str
    seconds: float
    note: str


def run_steps(project: Project, *, repeat: int = 3) -> list[Step]:
    """Time the report cold (both consensus methods), a cached hit and the reference."""
    load_s, ratings = timed(lambda: ratings_load(project), repeat)
    cold_s, report = timed(lambda: agreement_compute(project), repeat)
    method = project.consensus_method
    project.consensus_method = ConsensusMethod.DAWID_SKENE
    skene_s, _ = timed(lambda: agreement_compute(project), repeat)
    project.consensus_method = method
    agreement_report(project)  # computes and stores the report unless already cached
    hit_s, _ = timed(lambda: agreement_report(project), max(repeat, 5))
    pairs_s, _ = timed(lambda: _pairwise_only(project), repeat)
    reference_s, (kappas, fetch_s) = timed(lambda: reference_kappas(project), 1)
    gap = _largest_gap(report, kappas)
    over_time = report["over_time"]
    return [
        Step(
            "ratings_load",
            load_s,
            "two queries, in ranges on two connections, into arrays "
            f"({ratings.codes.shape[0]:,} images x {ratings.codes.shape[1]} annotators); "
            "part of the report",
        ),
        Step(
            OURS,
            cold_s,
            f"full report, cold: {len(report['cohen_kappa']['pairs'])} pairs (mean kappa "
            f"{report['cohen_kappa']['mean']['value']:.3f}), bootstrap intervals, per "
            f"annotator, {len(over_time['points'])} {over_time['bucket']} points",
        ),
        Step("agreement_compute (Dawid-Skene)", skene_s, "the same with Dawid-Skene consensus"),
        Step("agreement_report (cached)", hit_s, "watermark queries and a cache hit"),
        Step(OURS_PAIRS, pairs_s, "ratings_load + cohen_kappa_matrix, like for like"),
        Step(
            REFERENCE,
            reference_s,
            f"rows by cursor {fetch_s:.2f} s, then the pair loop; largest difference from "
            f"ours {gap:.0e}",
        ),
    ]


def reference_kappas(project: Project) -> tuple[dict[tuple[int, int], float], float]:
    """Every pair's Cohen's kappa the plain way: rows by cursor, scikit-learn per pair.

    Returns the kappas by pair of annotator ids and the seconds spent fetching the rows.
    """
    started = time.perf_counter()
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT a.image_id, a.annotator_id, al.label_id FROM annotations_annotation a "
            "JOIN annotations_annotation_labels al ON al.annotation_id = a.id "
            "WHERE a.project_id = %s",
            [project.pk],
        )
        rows = np.array(cursor.fetchall(), dtype=np.int64).reshape(-1, 3)
    fetched = time.perf_counter() - started
    image_ids, image_rows = np.unique(rows[:, 0], return_inverse=True)
    annotator_ids, columns = np.unique(rows[:, 1], return_inverse=True)
    given = np.full((len(image_ids), len(annotator_ids)), -1, dtype=np.int64)
    given[image_rows, columns] = rows[:, 2]
    kappas = {}
    for i, first in enumerate(annotator_ids):
        for j in range(i + 1, len(annotator_ids)):
            shared = (given[:, i] >= 0) & (given[:, j] >= 0)
            if shared.any():
                value = cohen_kappa_score(given[shared, i], given[shared, j])
                kappas[(int(first), int(annotator_ids[j]))] = float(value)
    return kappas, fetched


def _pairwise_only(project: Project) -> PairMatrix:
    """What the reference computes, our way: the ratings, then every pair's kappa."""
    ratings = ratings_load(project)
    return cohen_kappa_matrix(ratings.codes, ratings.k)


def print_table(steps: list[Step]) -> None:
    """The steps as a Markdown table, the reference / ours ratio and the machine."""
    print("| step | seconds (median) | notes |")
    print("| --- | ---: | --- |")
    for step in steps:
        print(f"| {step.name} | {step.seconds:.3f} | {step.note} |")
    by_name = {step.name: step.seconds for step in steps}
    if {OURS, OURS_PAIRS, REFERENCE} <= set(by_name):
        print(
            f"\nreference / full report: {by_name[REFERENCE] / by_name[OURS]:.1f}x; "
            f"reference / ours like for like: {by_name[REFERENCE] / by_name[OURS_PAIRS]:.1f}x"
        )
    with connection.cursor() as cursor:
        cursor.execute("SHOW server_version")
        (server,) = cursor.fetchone()
    load = ", ".join(f"{value:.1f}" for value in os.getloadavg())
    print(
        f"machine: {_processor()}, {os.cpu_count()} cores, load average {load}; "
        f"Python {platform.python_version()}, numpy {np.__version__} (huge-page hint "
        f"{_huge_page_hint()}), PostgreSQL {server}"
    )


def _huge_page_hint() -> str:
    """Whether numpy asks for huge pages for its large arrays (NUMPY_MADVISE_HUGEPAGE,
    off in the product's processes: see labeler/__init__.py)."""
    getter = getattr(np._core.multiarray, "_get_madvise_hugepage", None)
    return "unknown" if getter is None else "on" if getter() else "off"


def _largest_gap(report: dict[str, Any], kappas: dict[tuple[int, int], float]) -> float:
    """The largest difference between the report's pairwise kappas and the reference's."""
    gaps = [
        abs(pair["value"] - kappas[(pair["annotators"][0], pair["annotators"][1])])
        for pair in report["cohen_kappa"]["pairs"]
        if pair["value"] is not None
    ]
    return max(gaps, default=0.0)


def _processor() -> str:
    """The CPU's model name where /proc/cpuinfo tells it."""
    try:
        with open("/proc/cpuinfo") as info:
            for line in info:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.machine()
