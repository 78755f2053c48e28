"""Annotators' time and throughput page, and its CSV download (leads and admins)."""

from __future__ import annotations

import csv
import datetime as dt

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from labeler.agreement.throughput import FEW, PERIODS, ThroughputRow, annotator_throughput
from labeler.dates_in import day_read
from labeler.errors import DomainError
from labeler.exports.formats.text import spreadsheet_safe
from labeler.web.pages import page_project

CSV_COLUMNS = [
    "period_start",
    "annotator_id",
    "username",
    "labels",
    "timed_labels",
    "active_hours",
    "labels_per_hour",
    "consensus_n",
    "consensus_agreement",
    "consensus_ties",
    "gold_n",
    "gold_accuracy",
]


@login_required
@require_GET
def throughput_page(request: HttpRequest, project_id: int) -> HttpResponse:
    """Each annotator's labels, active time, pace, agreement and gold accuracy per period."""
    project = page_project(request, project_id, manage=True)
    period = request.GET.get("period") or "week"
    error = ""
    rows: list[ThroughputRow] = []
    try:
        since, until = _date(request, "since"), _date(request, "until")
        rows = annotator_throughput(project, period=period, since=since, until=until)
    except DomainError as exc:
        error = exc.message
    if request.GET.get("format") == "csv" and not error:
        return _csv(project.pk, period, rows)
    context = {
        "project": project,
        "rows": rows,
        "period": period,
        "periods": PERIODS,
        "since": request.GET.get("since", ""),
        "until": request.GET.get("until", ""),
        "error": error,
        "few": FEW,
        "cap_seconds": settings.LABELER_ACTIVE_TIME_CAP_SECONDS,
        "query": request.GET.urlencode(),
    }
    return render(request, "team/throughput.html", context, status=400 if error else 200)


def csv_row(row: ThroughputRow) -> list[object]:
    """One row of the CSV: rates as fractions, blank where undefined."""
    return [
        row.period_start.isoformat(),
        row.annotator_id,
        row.username,
        row.labels,
        row.timed_labels,
        round(row.active_seconds / 3600, 3),
        "" if row.labels_per_hour is None else row.labels_per_hour,
        row.consensus_n,
        "" if row.consensus_rate is None else round(row.consensus_rate, 4),
        row.consensus_ties,
        row.gold_n,
        "" if row.gold_accuracy is None else round(row.gold_accuracy, 4),
    ]


def _csv(project_id: int, period: str, rows: list[ThroughputRow]) -> HttpResponse:
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    name = f"throughput-project-{project_id}-per-{period}.csv"
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    writer = csv.writer(response)
    writer.writerow(CSV_COLUMNS)
    # Usernames are plain [\w.@+-]: one starting with "-", "+" or "@" is quoted as the
    # exports quote such text (one rule, ``spreadsheet_safe``).
    for row in rows:
        writer.writerow([spreadsheet_safe(cell) for cell in csv_row(row)])
    return response


def _date(request: HttpRequest, name: str) -> dt.date | None:
    raw = request.GET.get(name, "").strip()
    if not raw:
        return None
    return day_read(raw, field=name)
