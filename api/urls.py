"""Routes of the REST API, mounted at /api/v1/."""

from __future__ import annotations

from typing import Any

from csp.decorators import csp_update
from django.urls import URLPattern, URLResolver, include, path
from drf_spectacular.views import (
    SpectacularAPIView,
    SpectacularRedocView,
    SpectacularSwaggerSplitView,
)
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.routers import APIRootView, DefaultRouter, SimpleRouter

from api.agreement import AgreementView, ConsensusView
from api.annotations import AnnotationViewSet
from api.audit import AuditView, ProjectAuditView
from api.auth import TokenLoginView
from api.bulk import BulkActionDetailView, BulkActionListView, BulkView
from api.drift import DriftChecksView
from api.duplicates import DuplicateListView
from api.erasures import ErasureDetailView, ErasureListView
from api.explanations import ImageExplanationView
from api.exports import ExportDetailView, ExportDownloadView, ExportListView, ExportView
from api.faces import ImageFacesDetectView, ImageFacesView, ImageFaceView
from api.images import ImageViewSet
from api.imports import ArchiveImportView, ImportView
from api.invitations import InvitationViewSet
from api.label_history import ImageHistoryView, LabelHistoryView
from api.label_issues import LabelIssueListView
from api.machine_labels import (
    MachineLabelListView,
    MachineLabelReviewView,
    MachineLabelSendView,
    MachineLabelStatsView,
)
from api.members import MembershipViewSet
from api.metadata_fields import MetadataFieldViewSet
from api.model_packages import ModelPackageFileView, ModelPackageView
from api.predictions import ImagePredictionsView, PredictionListView
from api.progress import HistoryView, ProgressView
from api.projects import ProjectViewSet
from api.qualification import StandingActionView, StandingListView
from api.queue import NextImageView, NextPageView
from api.references import ReferenceDetailView, ReferenceListView
from api.review import (
    DecisionBatchView,
    DecisionDetailView,
    DecisionListView,
    ReviewDetailView,
    ReviewListView,
)
from api.serving import (
    PredictJobView,
    PredictTokenDetailView,
    PredictTokenListView,
    PredictView,
    ServedPredictionListView,
)
from api.skips import SkipViewSet
from api.slices import SliceDownloadView, SliceReportView
from api.sway import SuggestionSwayView
from api.throughput import ThroughputView
from api.training import (
    ModelVersionDetailView,
    ModelVersionListView,
    ModelVersionPromoteView,
    PrelabelView,
    TrainingRunCancelView,
    TrainingRunDetailView,
    TrainingRunListView,
    TrainView,
)
from api.users import UserViewSet
from api.webhooks import WebhookViewSet
from labeler.site_address import site_link

app_name = "api"

# The API reference pages are Swagger UI's and Redoc's own: they style elements inline
# and draw icons from data: URLs; Redoc also parses the schema in a worker of a blob: URL.
SWAGGER_CSP = {"style-src": ["'unsafe-inline'"], "img-src": ["data:"]}
REDOC_CSP = {"style-src": ["'unsafe-inline'"], "img-src": ["data:"], "worker-src": ["blob:"]}


class SiteAPIRootView(APIRootView):
    """The API's root: its links on the site's address (``site_link``), not the Host's."""

    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        response = super().get(request, *args, **kwargs)
        response.data = {name: site_link(link) for name, link in response.data.items()}
        return response


class SiteRouter(DefaultRouter):
    APIRootView = SiteAPIRootView


router = SiteRouter()
router.register("projects", ProjectViewSet, basename="project")
router.register("users", UserViewSet, basename="user")

# The annotator's loop (next/, then annotations/) is tried first among a project's routes.
loop_router = SimpleRouter()
loop_router.register("annotations", AnnotationViewSet, basename="annotation")

project_router = SimpleRouter()
project_router.register("members", MembershipViewSet, basename="member")
project_router.register("invitations", InvitationViewSet, basename="invitation")
project_router.register("images", ImageViewSet, basename="image")
project_router.register("skips", SkipViewSet, basename="skip")
project_router.register("fields", MetadataFieldViewSet, basename="metadata-field")
project_router.register("webhooks", WebhookViewSet, basename="webhook")

project_urlpatterns: list[URLPattern | URLResolver] = [
    path("next/", NextImageView.as_view(), name="next-image"),
    path("", include(loop_router.urls)),
    path("audit/", ProjectAuditView.as_view(), name="project-audit"),
    path("queue/page/", NextPageView.as_view(), name="next-page"),
    # Before the images router: "bulk" is no image id.
    path("images/bulk/", BulkView.as_view(), name="images-bulk"),
    path(
        "bulk-actions/",
        BulkActionListView.as_view(),
        name="bulk-actions",
    ),
    path("imports/", ImportView.as_view(), name="imports"),
    path(
        "imports/archive/",
        ArchiveImportView.as_view(),
        name="imports-archive",
    ),
    path("references/", ReferenceListView.as_view(), name="references"),
    path(
        "references/<int:pk>/",
        ReferenceDetailView.as_view(),
        name="reference-detail",
    ),
    path("erasures/", ErasureListView.as_view(), name="erasures"),
    path(
        "erasures/<int:pk>/",
        ErasureDetailView.as_view(),
        name="erasure-detail",
    ),
    path("export/", ExportView.as_view(), name="export"),
    path("exports/", ExportListView.as_view(), name="export-list"),
    path("progress/", ProgressView.as_view(), name="progress"),
    path("throughput/", ThroughputView.as_view(), name="throughput"),
    path("history/", HistoryView.as_view(), name="history"),
    path("agreement/", AgreementView.as_view(), name="agreement"),
    path(
        "agreement/suggestion-sway/",
        SuggestionSwayView.as_view(),
        name="suggestion-sway",
    ),
    path(
        "qualification/",
        StandingListView.as_view(),
        name="standing-list",
    ),
    path(
        "qualification/<int:user_pk>/",
        StandingActionView.as_view(),
        name="standing-action",
    ),
    path("consensus/", ConsensusView.as_view(), name="consensus"),
    path("slices/", SliceReportView.as_view(), name="slices"),
    path("drift/checks/", DriftChecksView.as_view(), name="drift-checks"),
    path(
        "slices/download/",
        SliceDownloadView.as_view(),
        name="slices-download",
    ),
    path("review/", ReviewListView.as_view(), name="review"),
    path("duplicates/", DuplicateListView.as_view(), name="duplicates"),
    path(
        "review/<int:image_id>/",
        ReviewDetailView.as_view(),
        name="review-detail",
    ),
    path("decisions/", DecisionListView.as_view(), name="decisions"),
    path(
        "decisions/batch/",
        DecisionBatchView.as_view(),
        name="decisions-batch",
    ),
    path(
        "decisions/<int:image_id>/",
        DecisionDetailView.as_view(),
        name="decision-detail",
    ),
    path("train/", TrainView.as_view(), name="train"),
    path(
        "training-runs/",
        TrainingRunListView.as_view(),
        name="training-runs",
    ),
    path(
        "model-versions/",
        ModelVersionListView.as_view(),
        name="model-versions",
    ),
    path("prelabel/", PrelabelView.as_view(), name="prelabel"),
    path("predictions/", PredictionListView.as_view(), name="predictions"),
    path(
        "images/<int:image_id>/predictions/",
        ImagePredictionsView.as_view(),
        name="image-predictions",
    ),
    path(
        "images/<int:image_id>/explanation/",
        ImageExplanationView.as_view(),
        name="image-explanation",
    ),
    path(
        "label-history/",
        LabelHistoryView.as_view(),
        name="label-history",
    ),
    path(
        "images/<int:image_id>/history/",
        ImageHistoryView.as_view(),
        name="image-history",
    ),
    path(
        "images/<int:image_id>/faces/",
        ImageFacesView.as_view(),
        name="image-faces",
    ),
    path(
        "images/<int:image_id>/faces/detect/",
        ImageFacesDetectView.as_view(),
        name="image-faces-detect",
    ),
    path(
        "images/<int:image_id>/faces/<int:pk>/",
        ImageFaceView.as_view(),
        name="image-face",
    ),
    path(
        "label-issues/",
        LabelIssueListView.as_view(),
        name="label-issues",
    ),
    path(
        "machine-labels/",
        MachineLabelListView.as_view(),
        name="machine-labels",
    ),
    path(
        "machine-labels/send/",
        MachineLabelSendView.as_view(),
        name="machine-labels-send",
    ),
    path(
        "machine-labels/review/",
        MachineLabelReviewView.as_view(),
        name="machine-labels-review",
    ),
    path(
        "machine-labels/stats/",
        MachineLabelStatsView.as_view(),
        name="machine-labels-stats",
    ),
    # The prediction API: a prediction token reaches these two routes and no other.
    path("predict/", PredictView.as_view(), name="predict"),
    path(
        "predict/jobs/<int:job_pk>/",
        PredictJobView.as_view(),
        name="predict-job",
    ),
    path(
        "served-predictions/",
        ServedPredictionListView.as_view(),
        name="served-predictions",
    ),
    path(
        "predict-tokens/",
        PredictTokenListView.as_view(),
        name="predict-tokens",
    ),
    path(
        "predict-tokens/<int:pk>/",
        PredictTokenDetailView.as_view(),
        name="predict-token",
    ),
    path("", include(project_router.urls)),
]

urlpatterns = [
    # First, every route of one project behind one pattern of its prefix: a request
    # tries them only when its address starts with it, and the annotator's loop first.
    path("projects/<int:project_pk>/", include(project_urlpatterns)),
    path("auth/token/", TokenLoginView.as_view(), name="token"),
    path("audit/", AuditView.as_view(), name="audit"),
    path("bulk-actions/<int:pk>/", BulkActionDetailView.as_view(), name="bulk-action-detail"),
    path("exports/<int:pk>/", ExportDetailView.as_view(), name="export-detail"),
    path("exports/<int:pk>/download/", ExportDownloadView.as_view(), name="export-download"),
    path("training-runs/<int:pk>/", TrainingRunDetailView.as_view(), name="training-run"),
    path(
        "training-runs/<int:pk>/cancel/",
        TrainingRunCancelView.as_view(),
        name="training-run-cancel",
    ),
    path("model-versions/<int:pk>/", ModelVersionDetailView.as_view(), name="model-version"),
    path(
        "model-versions/<int:pk>/promote/",
        ModelVersionPromoteView.as_view(),
        name="model-version-promote",
    ),
    path("model-versions/<int:pk>/package/", ModelPackageView.as_view(), name="model-package"),
    path(
        "model-files/<int:pk>/<str:kind>/<int:user_id>/<int:issued>/<str:signature>",
        ModelPackageFileView.as_view(),
        name="model-package-file",
    ),
    path("schema/", SpectacularAPIView.as_view(), name="schema"),
    path(
        "docs/",
        csp_update(SWAGGER_CSP)(SpectacularSwaggerSplitView.as_view(url_name="api:schema")),
        name="docs",
    ),
    path(
        "redoc/",
        csp_update(REDOC_CSP)(SpectacularRedocView.as_view(url_name="api:schema")),
        name="redoc",
    ),
    path("", include(router.urls)),
]
