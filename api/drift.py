"""Drift checks of a project: the served predictions of a window against the current
model version's test images (``labeler.monitoring``).

Leads and admins run a check; reviewers and leads read them; annotators get 403 and
non-members 404.
"""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.request import Request
from rest_framework.response import Response

from api.permissions import ProjectScopedView
from labeler.errors import PermissionDenied
from labeler.monitoring import selectors, services
from labeler.monitoring.models import DriftCheck


class DriftChecksView(ProjectScopedView):
    """``GET``: the project's newest drift checks, newest first (each test's statistic and
    p-value, the verdict, the alarm and why); ``POST``: run a check now."""

    queryset = DriftCheck.objects.none()  # names the path's id type for the schema

    @extend_schema(responses={200: OpenApiResponse(description="The newest checks.")})
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        if not self.sees_all_annotations:
            raise PermissionDenied("Only the project's reviewers, leads and admins see drift.")
        checks = selectors.drift_checks(self.project)
        return Response(
            {
                "false_alarm_rate": self.project.drift_false_alarm_rate,
                "results": [selectors.check_data(check) for check in checks],
            }
        )

    @extend_schema(
        request=None,
        responses={
            201: OpenApiResponse(description="The check, run now."),
            202: OpenApiResponse(description="The reference is being computed; the check follows."),
            409: OpenApiResponse(description="Nothing to check: why, in words."),
        },
    )
    def post(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        self.require_manager()
        check = services.drift_check_run(project_id=self.project.pk)
        if check is None:
            detail = (
                "The current model's test images are being run through it first; the check follows."
            )
            return Response({"detail": detail}, status=status.HTTP_202_ACCEPTED)
        return Response(selectors.check_data(check), status=status.HTTP_201_CREATED)
