"""A model version's download package: ask for it, follow it, fetch its files.

Leads and admins only: reviewers and annotators get 403, non-members 404. ``POST``
starts the packaging (idempotent: while it runs, or once it is ready, it starts nothing)
and answers 202; ``GET`` says how far it is and, once ready, gives each file's signed
address. The files (ONNX, TorchScript, the card in Markdown and JSON) are fetched one by
one, without a session or token: the signed address is the permission, for the lead it
was made for, while they lead the project, until it expires (403 changed or not theirs,
410 expired, both with a message saying what to do).
"""

from __future__ import annotations

from typing import Any

from django.http import FileResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from api.training import ObjectModelView
from labeler.predictions import packages
from labeler.predictions.models import ModelPackage, ModelVersion, PackageStatus
from labeler.site_address import site_url


class PackageFileSerializer(serializers.Serializer):
    name = serializers.CharField()
    bytes = serializers.IntegerField()
    sha256 = serializers.CharField()
    url = serializers.CharField(help_text="Signed, expiring address of the file.")


class ModelPackageSerializer(serializers.Serializer):
    model_version = serializers.IntegerField()
    status = serializers.ChoiceField(
        choices=["none", *PackageStatus.values], help_text="none: never asked for."
    )
    message = serializers.CharField(allow_blank=True)
    files = serializers.DictField(child=PackageFileSerializer(), help_text="Once ready, by kind.")
    requested_at = serializers.DateTimeField(allow_null=True)
    finished_at = serializers.DateTimeField(allow_null=True)


class ModelPackageView(ObjectModelView):
    """A version's download package: POST asks for it, GET says where it stands."""

    model = ModelVersion
    noun = "Model version"
    queryset = ModelVersion.objects.none()

    @extend_schema(responses={200: ModelPackageSerializer})
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        self.require_manager()
        package = ModelPackage.objects.filter(model_version=self.object).first()
        return Response(self._body(package))

    @extend_schema(
        request=None,
        responses={
            202: ModelPackageSerializer,
            400: OpenApiResponse(description="The version has no weights file."),
        },
    )
    def post(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        self.require_manager()
        package = packages.model_package_request(version=self.object)
        package.refresh_from_db()  # run in-process, it may be done already
        return Response(self._body(package), status=status.HTTP_202_ACCEPTED)

    def _body(self, package: ModelPackage | None) -> dict[str, Any]:
        version: ModelVersion = self.object
        body: dict[str, Any] = {
            "model_version": version.pk,
            "status": "none" if package is None else package.status,
            "message": "" if package is None else package.message,
            "files": {},
            "requested_at": None if package is None else package.requested_at,
            "finished_at": None if package is None else package.finished_at,
        }
        if package is None or package.status != PackageStatus.READY:
            return body
        missing = packages.package_missing(version)
        if missing:
            gone = "Files of the package are missing: ask for the download again."
            body.update(status=PackageStatus.FAILED, message=gone)
            return body
        links = packages.package_links(version=version, user=self.user)
        body["files"] = {
            kind: {**package.files[kind], "url": site_url(links[kind])}
            for kind in packages.FILES
            if kind in package.files
        }
        return body


class ModelPackageFileView(APIView):
    """One file of a package, to whoever holds its signed address, until it expires."""

    authentication_classes: list[Any] = []
    permission_classes = [AllowAny]

    @extend_schema(
        responses={
            (200, "application/octet-stream"): OpenApiTypes.BINARY,
            403: OpenApiResponse(description="Changed, or made for a lead who no longer leads."),
            404: OpenApiResponse(description="The file is no longer on the server: ask again."),
            410: OpenApiResponse(description="Expired: ask for the download again."),
        },
    )
    def get(
        self, request: Request, pk: int, kind: str, user_id: int, issued: int, signature: str
    ) -> FileResponse:
        found = packages.package_file_open(
            version_id=pk, kind=kind, user_id=user_id, issued=issued, signature=signature
        )
        response = FileResponse(
            found.path.open("rb"),
            as_attachment=True,
            filename=found.download_name,
            content_type=found.content_type,
        )
        response["Cache-Control"] = f"private, max-age={found.max_age}"
        response["X-Content-Type-Options"] = "nosniff"
        return response
