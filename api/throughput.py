"""Annotators' time and throughput: GET /projects/{id}/throughput/ (leads and admins)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response

from api.inputs import DayField, StrictInput
from api.permissions import ProjectScopedView
from labeler.agreement.throughput import PERIODS, ThroughputRow, annotator_throughput
from labeler.annotations.models import Annotation


class ThroughputQuerySerializer(StrictInput, serializers.Serializer):
    period = serializers.ChoiceField(choices=PERIODS, default="week")
    since = DayField(required=False, help_text="First period start kept.")
    until = DayField(required=False, help_text="Last period start kept.")


class ThroughputRowSerializer(serializers.Serializer):
    period_start = serializers.DateField()
    annotator_id = serializers.IntegerField()
    username = serializers.CharField()
    labels = serializers.IntegerField(help_text="Labels given (annotations last changed then).")
    timed_labels = serializers.IntegerField(help_text="Of those, with a recorded time.")
    active_seconds = serializers.FloatField(
        help_text="Recorded time on each image, each capped at LABELER_ACTIVE_TIME_CAP_SECONDS."
    )
    labels_per_hour = serializers.FloatField(allow_null=True)
    consensus_n = serializers.IntegerField(help_text="Labels on images labelled by 2 or more.")
    consensus_agreed = serializers.IntegerField(help_text="Of those, matching the consensus.")
    consensus_ties = serializers.IntegerField(
        help_text="Of consensus_n, labels on images whose labellers tied: no consensus, "
        "counted as not agreeing."
    )
    consensus_rate = serializers.FloatField(allow_null=True)
    gold_n = serializers.IntegerField(help_text="Labels on gold images.")
    gold_correct = serializers.IntegerField()
    gold_accuracy = serializers.FloatField(allow_null=True)


class ThroughputView(ProjectScopedView):
    """Each annotator's labels, active time, pace, agreement and gold accuracy per period."""

    serializer_class = ThroughputRowSerializer
    pagination_class = None  # one row per annotator and period: the whole list at once
    queryset = Annotation.objects.none()  # names the path's id type for the schema

    @extend_schema(
        parameters=[
            OpenApiParameter("period", str, enum=list(PERIODS), description="day, week, month"),
            OpenApiParameter("since", dt.date),
            OpenApiParameter("until", dt.date),
        ],
        responses={200: ThroughputRowSerializer(many=True)},
    )
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        self.require_manager()
        query = ThroughputQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        rows = annotator_throughput(self.project, **query.validated_data)
        return Response(ThroughputRowSerializer([_as_dict(r) for r in rows], many=True).data)


def _as_dict(row: ThroughputRow) -> dict[str, Any]:
    return {
        **row.__dict__,
        "consensus_rate": row.consensus_rate,
        "gold_accuracy": row.gold_accuracy,
    }
