"""The prediction API: predict, poll a job, the served predictions' log, prediction tokens.

Who may predict: a prediction token of the project (``api/serving_auth.py``), or the
project's leads and admins with their session or API token. Reviewers and annotators get
403: what a model answers on new images is the leads' to hand out. The log and the
tokens are the leads' and admins' alone; a prediction token reaches only ``predict`` and
its jobs.
"""

from __future__ import annotations

import math
from functools import cached_property
from typing import Any

from django.contrib.auth.models import User
from django.core.exceptions import ValidationError as DjangoValidationError
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.authentication import SessionAuthentication, TokenAuthentication
from rest_framework.exceptions import NotAuthenticated
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.request import Request
from rest_framework.response import Response

from api.filters import UtcIsoDateTimeField
from api.pagination import NewestFirst
from api.parsers import JSONParser
from api.permissions import ProjectScopedView
from api.serving_auth import PredictTokenAuthentication
from labeler import flows
from labeler.errors import NotFound, PermissionDenied, ValidationFailed
from labeler.projects import selectors as project_selectors
from labeler.projects.models import Project
from labeler.projects.selectors import MAX_ID
from labeler.serving import inputs as serving_inputs
from labeler.serving import predict, selectors, tokens
from labeler.serving.models import PredictionJob, PredictToken, ServedPrediction
from labeler.site_address import site_url

PREDICT_REFUSED = (
    "Only the project's leads and admins, or a prediction token of this project, can "
    "request predictions."
)


class PredictScopedView(ProjectScopedView):
    """A project route a prediction token of that project may call too."""

    authentication_classes = [
        PredictTokenAuthentication,
        TokenAuthentication,
        SessionAuthentication,
    ]
    permission_classes: list[Any] = []  # checked by ``predict_access`` (a token has no user)

    @property
    def predict_token(self) -> PredictToken | None:
        auth = self.request.auth
        return auth if isinstance(auth, PredictToken) else None

    @cached_property
    def project(self) -> Project:
        token = self.predict_token
        if token is None:
            return super().project
        if token.project_id != int(self.kwargs["project_pk"]):
            raise NotFound("Project not found.")  # another project's: as a missing one
        return token.project

    def predict_access(self) -> None:
        """A token of this project, or a lead or admin; else 401 or 403."""
        if self.predict_token is not None:
            self.project  # noqa: B018  (another project's token: 404)
            return
        if not isinstance(self.request.user, User) or not self.request.user.is_authenticated:
            raise NotAuthenticated()
        if not project_selectors.can_manage(user=self.user, project=self.project, role=self.role):
            raise PermissionDenied(PREDICT_REFUSED)

    @property
    def caller_ids(self) -> tuple[int | None, int | None]:
        token = self.predict_token
        return (None, token.pk) if token is not None else (self.user.pk, None)


def _ids(raw: Any) -> list[Any]:
    if raw in (None, ""):
        return []
    if isinstance(raw, list):
        return [i for part in raw for i in _ids(part)]
    if isinstance(raw, str):
        return [part for part in raw.replace(",", " ").split() if part]
    return [raw]


def _flag(raw: Any, name: str) -> bool:
    if isinstance(raw, bool):
        return raw
    if str(raw).lower() in ("", "0", "false", "no", "none"):
        return False
    if str(raw).lower() in ("1", "true", "yes"):
        return True
    raise ValidationFailed(f"{name}: true or false.", field=name)


class PredictView(PredictScopedView):
    """POST images (``files``) or ids of the project's images (``images``): each label's
    probability from the current version (or ``version``), at once for up to
    LABELER_PREDICT_SYNC_MAX images, else as a job (202 and its URL). ``explain``: each
    image's heat map too (of ``explain_label``, else its top label), at once only."""

    parser_classes = [MultiPartParser, FormParser, JSONParser]

    @extend_schema(request=None, responses={200: None, 202: None})
    def post(self, request: Request, project_pk: int) -> Response:
        self.predict_access()
        data: Any = request.data if isinstance(request.data, dict) else {}
        files = request.FILES.getlist("files") if hasattr(request, "FILES") else []
        raw_ids = data.getlist("images") if hasattr(data, "getlist") else data.get("images")
        references = _ids(raw_ids)
        keep = _flag(data.get("keep", False), "keep")
        if keep and not files:
            raise ValidationFailed("keep: only uploaded files can be kept.", field="keep")
        explain, explain_label = self._explain_asked(data)
        count = len(files) + len(references)
        serving_inputs.count_check(count)
        if explain:
            serving_inputs.explain_check(count)
        version = serving_inputs.version_for(self.project, data.get("version"))
        items = serving_inputs.uploads_checked(files) + serving_inputs.references_resolved(
            self.project, references
        )
        caller_id, token_id = self.caller_ids
        if not predict.answers_at_once(count):
            kept = self._keep(files) if keep else None
            job = predict.prediction_job_start(
                project=self.project, version=version, inputs=items,
                caller_id=caller_id, token_id=token_id,
            )  # fmt: skip
            body = _job_body(job, request)
            if kept is not None:
                body["kept"] = kept
            return Response(body, status=status.HTTP_202_ACCEPTED)
        answer = predict.predictions_answer(
            version=version, inputs=items, caller_id=caller_id, token_id=token_id,
            explain=explain, explain_label=explain_label,
        )  # fmt: skip
        if keep:  # once answered: a request refused keeps nothing
            answer["kept"] = self._keep(files)
        return Response(answer)

    def _explain_asked(self, data: Any) -> tuple[bool, int | None]:
        """``explain`` (true or false) and ``explain_label`` (a label's id, with it only)."""
        explain = _flag(data.get("explain", False), "explain")
        label_id = serving_inputs.explain_label_for(self.project, data.get("explain_label"))
        if label_id is not None and not explain:
            raise ValidationFailed("explain_label: only with explain=true.", field="explain_label")
        return explain, label_id

    def _keep(self, files: list[Any]) -> list[dict[str, Any]]:
        """The uploads added to the project (the ingest flow: previews, pre-labels, queue)."""
        results = flows.images_ingest(project=self.project, files=files)
        return [
            {"name": r.name, "status": r.status, "image_id": r.image_id, "reason": r.reason}
            for r in results
        ]


def _job_body(job: PredictionJob, request: Request) -> dict[str, Any]:
    url = site_url(f"/api/v1/projects/{job.project_id}/predict/jobs/{job.pk}/")
    body: dict[str, Any] = {
        "id": job.pk,
        "status": job.status,
        "url": url,
        "images": len(job.inputs),
        "version": {"id": job.model_version_id},
        "created_at": job.created_at,
        "finished_at": job.finished_at,
    }
    if job.message:
        body["message"] = job.message
    if job.status == "done":
        body["predictions"] = job.results
        body["duration_ms"] = round(job.duration_ms, 3)
    return body


class PredictJobView(PredictScopedView):
    """GET a prediction job: its status, and its predictions once done."""

    @extend_schema(responses={200: None})
    def get(self, request: Request, project_pk: int, job_pk: int) -> Response:
        self.predict_access()
        job = selectors.prediction_job_get(project=self.project, job_id=job_pk)
        token = self.predict_token
        if token is not None and job.token_id != token.pk:
            raise NotFound(f"Prediction job {job_pk} does not exist.")
        return Response(_job_body(job, request))


class ServedPredictionSerializer(serializers.ModelSerializer):
    version = serializers.IntegerField(source="model_version.version", allow_null=True)
    top_label_name = serializers.CharField(source="top_label.name", allow_null=True)
    caller = serializers.CharField(source="caller.username", allow_null=True)
    token = serializers.CharField(source="token.name", allow_null=True)

    class Meta:
        model = ServedPrediction
        fields = [
            "id", "version", "image_sha256", "top_label", "top_label_name", "probability",
            "probabilities", "caller", "token", "duration_ms", "created_at",
        ]  # fmt: skip
        read_only_fields = fields


class ServedPredictionListView(ProjectScopedView):
    """GET the project's served predictions, newest first (leads and admins). Filters:
    ``version``, ``label`` (id), ``token`` (id), ``since``/``until`` (ISO times),
    ``below`` (top probability under it)."""

    serializer_class = ServedPredictionSerializer
    pagination_class = NewestFirst  # the default cursor pages oldest first

    def get_queryset(self) -> Any:
        if getattr(self, "swagger_fake_view", False):  # the schema's generator: no caller
            return ServedPrediction.objects.none()
        self.require_manager()
        query = self.request.query_params
        return selectors.served_predictions(
            project=self.project,
            version=_int(query, "version"),
            label_id=_int(query, "label"),
            token_id=_int(query, "token"),
            since=_time(query, "since"),
            until=_time(query, "until"),
            below=_float(query, "below"),
        )

    @extend_schema(
        operation_id="projects_served_predictions_list",
        responses=ServedPredictionSerializer(many=True),
    )
    def get(self, request: Request, project_pk: int) -> Response:
        page = self.paginate_queryset(self.get_queryset())
        return self.get_paginated_response(self.get_serializer(page, many=True).data)


def _int(query: Any, name: str) -> int | None:
    raw = query.get(name)
    if raw in (None, ""):
        return None
    number = serving_inputs.whole_number(raw, top=MAX_ID)
    if number is None:
        raise ValidationFailed(f"{name}: a whole number from 1 to {MAX_ID}.", field=name)
    return number


def _float(query: Any, name: str) -> float | None:
    raw = query.get(name)
    if raw in (None, ""):
        return None
    try:
        number = float(raw)
    except ValueError:
        number = math.nan
    if not math.isfinite(number):
        raise ValidationFailed(f"{name}: a number.", field=name)
    return number


def _time(query: Any, name: str) -> Any:
    raw = query.get(name)
    if raw in (None, ""):
        return None
    try:  # the filters' reading of a time: an impossible date or offset is an error, in UTC
        return UtcIsoDateTimeField().clean(raw)
    except DjangoValidationError as exc:
        raise ValidationFailed(f"{name}: {' '.join(exc.messages)}", field=name) from None


class PredictTokenSerializer(serializers.ModelSerializer):
    created_by = serializers.CharField(source="created_by.username", allow_null=True)
    ended = serializers.SerializerMethodField(
        help_text="Why the token no longer works (revoked, or its issuer no longer leads the "
        'project), or "" while it does.'
    )

    class Meta:
        model = PredictToken
        fields = [
            "id",
            "name",
            "prefix",
            "created_by",
            "created_at",
            "last_used_at",
            "revoked_at",
            "ended",
        ]
        read_only_fields = fields

    def get_ended(self, token: PredictToken) -> str:
        return tokens.predict_token_ended(token)


class PredictTokenCreateSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=100)


class PredictTokenListView(ProjectScopedView):
    """GET the project's prediction tokens; POST ``name`` to issue one (its ``key`` is in
    this answer only). Leads and admins."""

    serializer_class = PredictTokenSerializer
    queryset = PredictToken.objects.none()  # the schema's path types; get reads the selector
    pagination_class = None

    @extend_schema(responses=PredictTokenSerializer(many=True))
    def get(self, request: Request, project_pk: int) -> Response:
        self.require_manager()
        found = selectors.predict_tokens(project=self.project)
        return Response(PredictTokenSerializer(found, many=True).data)

    @extend_schema(request=PredictTokenCreateSerializer, responses={201: PredictTokenSerializer})
    def post(self, request: Request, project_pk: int) -> Response:
        self.require_manager()
        given = PredictTokenCreateSerializer(data=request.data)
        given.is_valid(raise_exception=True)
        issued = tokens.predict_token_issue(
            project=self.project, name=given.validated_data["name"], created_by=self.user
        )
        body = {**PredictTokenSerializer(issued.token).data, "key": issued.key}
        return Response(body, status=status.HTTP_201_CREATED)


class PredictTokenDetailView(ProjectScopedView):
    """DELETE revokes the token (it stays listed, revoked). Leads and admins."""

    serializer_class = PredictTokenSerializer

    def delete(self, request: Request, project_pk: int, pk: int) -> Response:
        self.require_manager()
        token = tokens.predict_token_revoke(project=self.project, token_id=pk)
        return Response(PredictTokenSerializer(token).data)
