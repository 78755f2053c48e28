"""Agreement figures and consensus final labels of a project (reviewers, leads, admins)."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework.request import Request
from rest_framework.response import Response

from api.permissions import ProjectScopedView
from labeler.agreement.over_time import BUCKETS
from labeler.agreement.rows import consensus_rows
from labeler.agreement.selectors import agreement_report
from labeler.annotations.models import Annotation
from labeler.errors import PermissionDenied, ValidationFailed
from labeler.projects.models import ConsensusMethod


class QualityView(ProjectScopedView):
    """Base: these figures name annotators, so annotators themselves may not read them."""

    queryset = Annotation.objects.none()  # names the path's id type for the schema

    def require_overseer(self) -> None:
        if not self.sees_all_annotations:
            raise PermissionDenied("Only the project's reviewers, leads and admins see agreement.")


class AgreementView(QualityView):
    """Cohen's kappa per pair, Fleiss' kappa, Krippendorff's alpha, per label and annotator."""

    @extend_schema(
        parameters=[
            OpenApiParameter(
                "bucket",
                str,
                enum=list(BUCKETS),
                description="Points of over_time per day or week (default: days up to a "
                "60-day span, else weeks).",
            )
        ],
        responses={200: OpenApiResponse(description="The agreement report.")},
    )
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        self.require_overseer()
        bucket = request.query_params.get("bucket")
        if bucket is not None and bucket not in BUCKETS:
            raise ValidationFailed(
                f"Unknown bucket {bucket!r}; use one of {', '.join(BUCKETS)}.", field="bucket"
            )
        return Response(agreement_report(self.project, bucket))


class ConsensusView(QualityView):
    """Each rated image's consensus label, its method and confidence."""

    @extend_schema(
        parameters=[OpenApiParameter("method", str, enum=ConsensusMethod.values)],
        responses={200: OpenApiResponse(description="Consensus per image.")},
    )
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        self.require_overseer()
        method = request.query_params.get("method", self.project.consensus_method)
        if method not in ConsensusMethod.values:
            known = ", ".join(ConsensusMethod.values)
            raise ValidationFailed(
                f"Unknown method {method!r}; use one of {known}.", field="method"
            )
        rows = consensus_rows(self.project, method)
        label_ids = rows.ratings.label_ids
        results = [
            {
                "image": int(image_id),
                "label_ids": [label_ids[i] for i in rows.labels[row]],
                "method": method,
                "confidence": None
                if rows.confidence[row] != rows.confidence[row]
                else float(rows.confidence[row]),
                "needs_review": bool(rows.needs_review[row]),
                "eligible": bool(rows.eligible[row]),
            }
            for row, image_id in enumerate(rows.ratings.image_ids)
        ]
        return Response({"method": method, "count": len(results), "results": results})
