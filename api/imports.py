"""Importing images with their labels (leads and admins): POST /projects/{id}/imports/
(files and a label each) and POST /projects/{id}/imports/archive/ (a zip and a labels file)."""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from dataclasses import asdict
from typing import Any

from django.conf import settings
from django.core.files.uploadedfile import UploadedFile
from django.http import QueryDict
from drf_spectacular.utils import OpenApiResponse, PolymorphicProxySerializer, extend_schema
from rest_framework import serializers, status
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.request import Request
from rest_framework.response import Response

from api.inputs import StrictInput
from api.permissions import ProjectScopedView
from labeler.errors import ValidationFailed
from labeler.flows import images_import
from labeler.images.services import upload_read
from labeler.imports.archive import LABEL_FORMATS, archive_items, archive_plan, archive_preview
from labeler.imports.labels import LABELS_AS
from labeler.imports.services import ImportItem, LabelsIn
from labeler.imports.sources import LABEL_SEPARATORS


class ImportOptionsSerializer(StrictInput, serializers.Serializer):
    labels_as = serializers.ChoiceField(
        choices=LABELS_AS,
        default="final",
        help_text="final: imported final labels (the images are done); gold: gold labels; "
        "annotation: annotations of one more (imported) annotator.",
    )
    annotator = serializers.CharField(
        required=False,
        allow_blank=True,
        max_length=150,
        help_text="Account of imported annotations (labels_as=annotation); default 'imported'.",
    )
    create_labels = serializers.BooleanField(
        default=False, help_text="Add label names the project lacks instead of refusing them."
    )
    annotators = serializers.CharField(
        required=False,
        allow_blank=True,
        max_length=100_000,
        help_text="For the formats that know who labelled what: a JSON object from each "
        "person of the labels file (their key or e-mail, as a dry run lists them) to a "
        'member\'s username, or to "new" for an inactive account of their own. People '
        "left out are matched by e-mail, then username.",
    )

    def validate_annotators(self, value: str) -> dict[str, str]:
        if not value.strip():
            return {}
        try:
            chosen = json.loads(value)
        except ValueError as exc:
            raise serializers.ValidationError(f"Not JSON: {exc}.") from exc
        if not isinstance(chosen, dict) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in chosen.items()
        ):
            raise serializers.ValidationError(
                'A JSON object of text to text: {"<person>": "<username>" or "new"}.'
            )
        return chosen


class ImportResultSerializer(serializers.Serializer):
    name = serializers.CharField()
    status = serializers.ChoiceField(choices=["created", "duplicate", "rejected"])
    image_id = serializers.IntegerField(allow_null=True)
    reason = serializers.CharField(allow_blank=True)
    labels = serializers.ChoiceField(choices=["applied", "refused", "none"])
    labels_reason = serializers.CharField(allow_blank=True)
    label_names = serializers.ListField(child=serializers.CharField())
    annotations = serializers.IntegerField(
        help_text="A per-person file's annotations recorded on this image (new or kept)."
    )
    decision = serializers.CharField(
        allow_blank=True, help_text="The method of the decision recorded on it, if any."
    )


class NotAppliedSerializer(serializers.Serializer):
    record = serializers.CharField(help_text="The record of the labels file, or the file.")
    reason = serializers.CharField()


class PersonSerializer(serializers.Serializer):
    key = serializers.CharField(help_text="How the labels file names them.")
    shown = serializers.CharField()
    account = serializers.CharField(help_text="The account their labels go to.")
    how = serializers.ChoiceField(
        choices=["email", "username", "chosen", "imported", "new"],
        help_text="email or username: a member matched so; chosen: the lead's choice; "
        "imported: an imported account of an earlier import; new: an inactive account made.",
    )


class CountsInSerializer(serializers.Serializer):
    files = serializers.IntegerField()
    records = serializers.IntegerField(help_text="Tasks, rows or entries of the labels file.")
    annotations = serializers.IntegerField()
    decisions = serializers.IntegerField()
    labels = serializers.IntegerField(help_text="Label values, over annotations and decisions.")


class CountsOutSerializer(serializers.Serializer):
    images = serializers.IntegerField()
    images_created = serializers.IntegerField()
    annotations = serializers.IntegerField(help_text="Recorded: written or already there.")
    annotations_written = serializers.IntegerField()
    decisions = serializers.IntegerField()
    decisions_written = serializers.IntegerField()
    labels = serializers.IntegerField()
    not_applied = serializers.IntegerField()


class CountsSerializer(serializers.Serializer):
    # "in" is a Python keyword: the fields are named by source.
    def get_fields(self) -> dict[str, serializers.Field]:
        return {"in": CountsInSerializer(), "out": CountsOutSerializer()}


class ImportResponseSerializer(serializers.Serializer):
    counts = CountsSerializer()
    not_applied = NotAppliedSerializer(many=True)
    people = PersonSerializer(many=True)
    created = serializers.IntegerField()
    duplicates = serializers.IntegerField()
    rejected = serializers.IntegerField()
    labels_applied = serializers.IntegerField()
    labels_refused = serializers.IntegerField()
    labels_none = serializers.IntegerField()
    labels_created = serializers.ListField(child=serializers.CharField())
    results = ImportResultSerializer(many=True)


_FORM = {
    "type": "object",
    "properties": {
        "files": {"type": "array", "items": {"type": "string", "format": "binary"}},
        "labels": {
            "type": "array",
            "items": {"type": "string"},
            "description": "One per file, in order: a label name, several joined by ';', "
            "or empty for none. Leave out for no labels at all.",
        },
        "labels_as": {"type": "string", "enum": list(LABELS_AS), "default": "final"},
        "annotator": {"type": "string"},
        "create_labels": {"type": "boolean", "default": False},
    },
    "required": ["files"],
}


class ImportView(ProjectScopedView):
    """Leads and admins import images with their labels."""

    parser_classes = [MultiPartParser, FormParser]
    serializer_class = ImportResponseSerializer

    @extend_schema(
        request={"multipart/form-data": _FORM},
        responses={
            201: ImportResponseSerializer,
            200: ImportResponseSerializer,
            400: OpenApiResponse(description="No files, too many, or a bad field (named)."),
        },
    )
    def post(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        """Store the files of `files` with the labels of `labels`; report each file's fate."""
        self.require_manager()
        options = ImportOptionsSerializer(data=request.data)
        options.is_valid(raise_exception=True)
        files = request.FILES.getlist("files")
        labels = _labels(request, len(_check_count(files)))
        labels_in = LabelsIn.of_entries(
            [names for names in labels if names is not None],
            labels_as=options.validated_data["labels_as"],
        )
        return _import_answer(
            self, _items(files, labels), options.validated_data, labels_in=labels_in
        )


class ArchiveOptionsSerializer(ImportOptionsSerializer):
    labels_format = serializers.ChoiceField(
        choices=list(LABEL_FORMATS),
        help_text="Where the labels are: imagefolder (a folder per label), a labels file "
        "beside the archive or the one inside it (csv, tsv, json, jsonl, coco; per person: "
        "label-studio, label-studio-csv, label-studio-tsv, cvat-xml, labelbox-ndjson, "
        "fiftyone, csv-annotators), none.",
    )
    dry_run = serializers.BooleanField(
        default=False,
        help_text="Read the archive and the labels and answer what an import would do "
        "(the people matched and how, the counts in, the records no file matches), "
        "writing nothing.",
    )


class PreviewSerializer(serializers.Serializer):
    dry_run = serializers.BooleanField()
    counts_in = CountsInSerializer()
    people = PersonSerializer(many=True)
    not_applied = NotAppliedSerializer(many=True)


_ARCHIVE_FORM = {
    "type": "object",
    "properties": {
        "archive": {"type": "string", "format": "binary", "description": "A zip of images."},
        "labels_file": {"type": "string", "format": "binary"},
        "labels_format": {"type": "string", "enum": list(LABEL_FORMATS)},
        "labels_as": {"type": "string", "enum": list(LABELS_AS), "default": "final"},
        "annotator": {"type": "string"},
        "create_labels": {"type": "boolean", "default": False},
        "annotators": {"type": "string", "description": "JSON: person -> username or new."},
        "dry_run": {"type": "boolean", "default": False},
    },
    "required": ["archive", "labels_format"],
}


class ArchiveImportView(ProjectScopedView):
    """Leads and admins import a labelled dataset sent as one zip archive."""

    parser_classes = [MultiPartParser, FormParser]
    serializer_class = ImportResponseSerializer

    @extend_schema(
        request={"multipart/form-data": _ARCHIVE_FORM},
        responses={
            201: ImportResponseSerializer,
            200: PolymorphicProxySerializer(
                component_name="ArchiveImportAnswer",
                serializers=[ImportResponseSerializer, PreviewSerializer],
                resource_type_field_name=None,
            ),
            400: OpenApiResponse(description="No archive, unreadable labels, a bad field."),
        },
    )
    def post(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        """Store the archive's images with their labels; report each file's fate."""
        self.require_manager()
        options = ArchiveOptionsSerializer(data=request.data)
        options.is_valid(raise_exception=True)
        archive = request.FILES.get("archive")
        if archive is None:
            raise ValidationFailed(
                "No archive: send the zip in the field 'archive'.", field="archive"
            )
        limit = settings.LABELER_MAX_ARCHIVE_BYTES
        if archive.size is not None and archive.size > limit:
            raise ValidationFailed(f"The archive is over {limit:,} bytes.", field="archive")
        sent = request.FILES.get("labels_file")
        plan = archive_plan(
            archive,
            labels_format=options.validated_data["labels_format"],
            labels_file=sent,
        )
        labels_in = plan.labels_in(options.validated_data["labels_as"])
        if options.validated_data["dry_run"]:
            preview = archive_preview(
                project=self.project,
                plan=plan,
                labels_in=labels_in,
                annotators=options.validated_data.get("annotators") or None,
            )
            return Response(PreviewSerializer({"dry_run": True, **preview}).data)
        return _import_answer(
            self, archive_items(archive, plan), options.validated_data, labels_in=labels_in
        )


def _import_answer(
    view: ProjectScopedView, items: Any, options: dict[str, Any], *, labels_in: LabelsIn | None
) -> Response:
    """Import the items with the request's options; 201 when any image was created."""
    summary = images_import(
        project=view.project,
        items=items,
        labels_as=options["labels_as"],
        annotator_name=options.get("annotator") or None,
        create_labels=options["create_labels"],
        user=view.user,
        labels_in=labels_in,
        annotators=options.get("annotators") or None,
    )
    body = ImportResponseSerializer(
        {
            **asdict(summary),
            "counts": summary.counts(),
            "results": [asdict(r) for r in summary.results],
        }
    ).data
    code = status.HTTP_201_CREATED if summary.created else status.HTTP_200_OK
    return Response(body, status=code)


def _check_count(files: list[UploadedFile]) -> list[UploadedFile]:
    if not files:
        raise ValidationFailed("No files: send them in the multipart field 'files'.", field="files")
    limit = settings.LABELER_MAX_FILES_PER_REQUEST
    if len(files) > limit:
        raise ValidationFailed(f"At most {limit} files per request.", field="files")
    return files


def _labels(request: Request, count: int) -> list[list[str] | None]:
    """Each file's label names (None: none), from the repeated field `labels`."""
    data = request.data
    if not isinstance(data, QueryDict) or "labels" not in data:
        return [None] * count
    raw: Sequence[str] = data.getlist("labels")
    if len(raw) != count:
        raise ValidationFailed(
            f"{len(raw)} 'labels' values for {count} files: send one per file, in the "
            "same order (empty for none).",
            field="labels",
        )
    names = [[n.strip() for n in LABEL_SEPARATORS.split(cell) if n.strip()] for cell in raw]
    return [labels or None for labels in names]


def _items(files: list[UploadedFile], labels: list[list[str] | None]) -> Iterator[ImportItem]:
    """Each upload read only when its turn comes."""
    for upload, names in zip(files, labels, strict=True):
        yield ImportItem(upload.name or "upload", upload_read(upload), names)
