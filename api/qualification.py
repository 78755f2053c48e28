"""Annotators' standing: the qualification test on gold images and pauses for low gold accuracy."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response

from api.agreement import QualityView
from api.inputs import StrictInput
from labeler.annotations import qualification
from labeler.projects.models import Project


class StandingSerializer(serializers.Serializer):
    annotator_id = serializers.IntegerField()
    username = serializers.CharField()
    status = serializers.ChoiceField(
        choices=["qualifying", "failed", "qualified", "paused"],
        help_text="qualifying: taking the test (gold images only); failed: waits for a lead; "
        "qualified: labelling; paused: gold accuracy fell below the mark, waits for a lead.",
    )
    status_label = serializers.CharField()
    test_answered = serializers.IntegerField(help_text="Test gold images answered so far.")
    test_correct = serializers.IntegerField(help_text="Of those, labelled as the gold label.")
    test_size = serializers.IntegerField(help_text="Gold images in the test; 0: no test.")
    rolling_answered = serializers.IntegerField(help_text="Gold answers in the rolling window.")
    rolling_correct = serializers.IntegerField()
    rolling_accuracy = serializers.FloatField(allow_null=True)
    attempts = serializers.IntegerField(help_text="Tests started.")
    changed_at = serializers.DateTimeField(allow_null=True)
    needs_lead = serializers.BooleanField(help_text="Failed or paused: a lead must act.")


class StandingListSerializer(serializers.Serializer):
    rules = serializers.DictField(help_text="The project's qualification and pause settings.")
    results = StandingSerializer(many=True)


class StandingActionSerializer(StrictInput, serializers.Serializer):
    action = serializers.ChoiceField(
        choices=list(qualification.ACTIONS),
        help_text="resume: let a failed or paused annotator label again; retake: send them "
        "back to the test, on gold images they have not seen.",
    )


def rules(project: Project) -> dict[str, Any]:
    return {
        "qualification_gold_count": project.qualification_gold_count,
        "qualification_pass_mark": project.qualification_pass_mark,
        "gold_pause_window": project.gold_pause_window,
        "gold_pause_below": project.gold_pause_below,
    }


class StandingListView(QualityView):
    """Every annotator's standing: test progress and result, rolling gold accuracy, pauses."""

    @extend_schema(responses={200: StandingListSerializer})
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        self.require_overseer()
        rows = qualification.project_standings(self.project)
        return Response(
            {"rules": rules(self.project), "results": [_standing(asdict(row)) for row in rows]}
        )


class StandingActionView(QualityView):
    """A lead lets a failed or paused annotator go on, or sends them back to the test."""

    serializer_class = StandingActionSerializer

    @extend_schema(
        request=StandingActionSerializer,
        responses={
            200: StandingSerializer,
            404: OpenApiResponse(description="No such annotator standing in the project."),
            409: OpenApiResponse(
                description="The annotator is neither failed nor paused, or no longer an "
                "annotator of the project."
            ),
        },
    )
    def post(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        self.require_manager()
        data = StandingActionSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        standing = qualification.standing_act(
            project=self.project,
            annotator_id=int(self.kwargs["user_pk"]),
            action=data.validated_data["action"],
            by=self.user,
        )
        row = qualification.standing_row(project=self.project, standing=standing)
        return Response(_standing(asdict(row)))


def _standing(row: dict[str, Any]) -> dict[str, Any]:
    return StandingSerializer(row).data
