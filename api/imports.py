"""Importing images with their labels (leads and admins): POST /projects/{id}/imports/
(files, and a label each or the labels file of their folder) and POST
/projects/{id}/imports/archive/ (a zip and a labels file)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict
from typing import Any

from django.conf import settings
from django.contrib.auth.models import User
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
from labeler.imports.planning.archive import archive_import_plan
from labeler.imports.planning.labels_in import LABELS_AS
from labeler.imports.planning.plan import ImportOptions, ImportPlan, plan_preview
from labeler.imports.planning.uploads import batch_import_plan, uploads_import_plan
from labeler.imports.reading.archive import LABEL_FORMATS, archive_read
from labeler.imports.reading.loader import annotators_parse, people_confirmed_parse
from labeler.imports.reading.matching import normalised
from labeler.imports.reading.sources import (
    LABEL_FILE_SUFFIX,
    LABEL_SEPARATORS,
    LabelSourceError,
    LabelsSource,
    labels_source_read,
)

MAX_PATH = 1024  # an image's source_key


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

    people_confirmed = serializers.CharField(
        required=False,
        allow_blank=True,
        max_length=100_000,
        help_text="The people (their key or e-mail, as a dry run lists them under "
        "contradictions) whose account contradicts what the labels file says of them "
        "(another e-mail, another member's name), confirmed by the lead: a JSON list, or "
        "the names separated by commas. An import with an unconfirmed one answers 400 "
        "listing them and writes nothing.",
    )

    def validate_annotators(self, value: str) -> dict[str, str]:
        try:
            return annotators_parse(value)
        except LabelSourceError as exc:
            raise serializers.ValidationError(str(exc)) from exc

    def validate_people_confirmed(self, value: str) -> list[str]:
        try:
            return people_confirmed_parse(value)
        except LabelSourceError as exc:
            raise serializers.ValidationError(str(exc)) from exc


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
    metadata = serializers.BooleanField(
        help_text="Whether its entry of the labels file set metadata on it (capture time, "
        "position, origin, camera, licence, tags, the project's fields)."
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
    metadata = serializers.IntegerField(help_text="Images whose metadata the labels file set.")
    not_applied = serializers.IntegerField()


class CountsSerializer(serializers.Serializer):
    # "in" is a Python keyword: the fields are named by source.
    def get_fields(self) -> dict[str, serializers.Field]:
        return {"in": CountsInSerializer(), "out": CountsOutSerializer()}


class LabelsFileSerializer(serializers.Serializer):
    records = serializers.IntegerField()
    annotations = serializers.IntegerField()
    decisions = serializers.IntegerField()
    labels = serializers.IntegerField()
    skipped = NotAppliedSerializer(
        many=True, help_text="The records of the file its reader could not use, and why."
    )


_WHOLE_FILE = (
    "The labels file sent with a batch of files (labels_file), as a whole: the same for "
    "every batch, so a client sending a folder in batches takes it once. Null otherwise."
)


class ImportResponseSerializer(serializers.Serializer):
    counts = CountsSerializer()
    not_applied = NotAppliedSerializer(many=True)
    people = PersonSerializer(many=True)
    labels_file = LabelsFileSerializer(allow_null=True, help_text=_WHOLE_FILE)
    created = serializers.IntegerField()
    duplicates = serializers.IntegerField()
    rejected = serializers.IntegerField()
    labels_applied = serializers.IntegerField()
    labels_refused = serializers.IntegerField()
    labels_none = serializers.IntegerField()
    labels_created = serializers.ListField(child=serializers.CharField())
    results = ImportResultSerializer(many=True)


class FilesOptionsSerializer(ImportOptionsSerializer):
    labels_format = serializers.ChoiceField(
        choices=list(LABEL_FILE_SUFFIX),
        required=False,
        help_text="The format of labels_file (csv, tsv, json, jsonl, coco; per person: "
        "label-studio, label-studio-csv, label-studio-tsv, cvat-xml, labelbox-ndjson, "
        "fiftyone, csv-annotators).",
    )
    dry_run = serializers.BooleanField(
        default=False,
        help_text="Answer what the import would do (the counts in, the people matched and "
        "how, the files whose entry is ambiguous), writing nothing. With labels_file the "
        "files may be left out: the answer is then the labels file's and its people's.",
    )


class ContradictionSerializer(serializers.Serializer):
    key = serializers.CharField(help_text="How the labels file names the person.")
    shown = serializers.CharField()
    account = serializers.CharField(help_text="The member their labels would go to.")
    says = serializers.CharField(help_text="What of the file's the member contradicts.")
    confirmed = serializers.BooleanField(help_text="Whether people_confirmed names them.")


class PreviewSerializer(serializers.Serializer):
    dry_run = serializers.BooleanField()
    counts_in = CountsInSerializer()
    people = PersonSerializer(many=True)
    not_applied = NotAppliedSerializer(many=True)
    contradictions = ContradictionSerializer(
        many=True,
        help_text="The people matched to a member the labels file says they are not; the "
        "import needs each confirmed in people_confirmed.",
    )


class FilesPreviewSerializer(PreviewSerializer):
    labels_file = LabelsFileSerializer(allow_null=True, help_text=_WHOLE_FILE)


_FORM = {
    "type": "object",
    "properties": {
        "files": {"type": "array", "items": {"type": "string", "format": "binary"}},
        "paths": {
            "type": "array",
            "items": {"type": "string"},
            "description": "One per file, in order: its path in the folder being imported "
            "(cat/1.jpg), by which its labels entry is matched and which names the image. "
            "Default: the file's name.",
        },
        "labels": {
            "type": "array",
            "items": {"type": "string"},
            "description": "One per file, in order: a label name, several joined by ';', "
            "or empty for none. Leave out for no labels at all.",
        },
        "labels_file": {
            "type": "string",
            "format": "binary",
            "description": "Instead of labels: the labels file of the folder the files come "
            "from, in labels_format. Each file takes the entry matched by its path, its "
            "name, or its content, as an archive's files do; a folder sent in batches sends "
            "the same file with each. A batch does not report the entries none of its "
            "files matched: they may be another batch's, and the client knows the folder.",
        },
        "labels_format": {"type": "string", "enum": list(LABEL_FILE_SUFFIX)},
        "labels_as": {"type": "string", "enum": list(LABELS_AS), "default": "final"},
        "annotator": {"type": "string"},
        "create_labels": {"type": "boolean", "default": False},
        "annotators": {"type": "string", "description": "JSON: person -> username or new."},
        "people_confirmed": {
            "type": "string",
            "description": "JSON list: the people whose contradicting match is confirmed.",
        },
        "dry_run": {"type": "boolean", "default": False},
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
            200: PolymorphicProxySerializer(
                component_name="FilesImportAnswer",
                serializers=[ImportResponseSerializer, FilesPreviewSerializer],
                resource_type_field_name=None,
            ),
            400: OpenApiResponse(description="No files, too many, or a bad field (named)."),
        },
    )
    def post(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        """Store the files of `files` with the labels of `labels` or of `labels_file`;
        report each file's fate, the counts in and out and every record not applied."""
        self.require_manager()
        options = FilesOptionsSerializer(data=request.data)
        options.is_valid(raise_exception=True)
        data = options.validated_data
        files = request.FILES.getlist("files")
        loaded = _labels_file_load(request, data)
        if loaded is None:
            plan = self._files_plan(request, files, data)
        else:
            plan = self._batch_plan(request, files, loaded, data)
        if data["dry_run"]:
            preview = plan_preview(plan)
            body = {"dry_run": True, **asdict(preview), "labels_file": plan.labels_file}
            return Response(FilesPreviewSerializer(body).data)
        return _import_answer(plan, self.user)

    def _files_plan(
        self, request: Request, files: list[UploadedFile], options: dict[str, Any]
    ) -> ImportPlan:
        """The files with a label each (or none), from the repeated field `labels`."""
        names = _paths(request, _check_count(files))
        labels = _labels(request, len(files))
        return uploads_import_plan(
            project=self.project, files=files, names=names, labels=labels, options=_options(options)
        )

    def _batch_plan(
        self,
        request: Request,
        files: list[UploadedFile],
        loaded: LabelsSource,
        options: dict[str, Any],
    ) -> ImportPlan:
        """The files with the labels file of their folder: each takes its entry."""
        if files or not options["dry_run"]:
            _check_count(files)
        return batch_import_plan(
            project=self.project,
            files=files,
            names=_paths(request, files),
            source=loaded,
            options=_options(options),
            dry_run=options["dry_run"],
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
        "people_confirmed": {
            "type": "string",
            "description": "JSON list: the people whose contradicting match is confirmed.",
        },
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
        data = options.validated_data
        sent = request.FILES.get("labels_file")
        contents = archive_read(archive, labels_format=data["labels_format"], labels_file=sent)
        plan = archive_import_plan(
            project=self.project,
            archive=archive,
            contents=contents,
            options=_options(data),
            dry_run=data["dry_run"],
        )
        if data["dry_run"]:
            preview = plan_preview(plan)
            return Response(PreviewSerializer({"dry_run": True, **asdict(preview)}).data)
        return _import_answer(plan, self.user)


def _options(data: dict[str, Any]) -> ImportOptions:
    """The import's options from the request's validated fields."""
    return ImportOptions(
        labels_as=data["labels_as"],
        annotator=data.get("annotator") or None,
        create_labels=data["create_labels"],
        annotators=data.get("annotators") or None,
        people_confirmed=data.get("people_confirmed") or None,
    )


def _import_answer(plan: ImportPlan, actor: User) -> Response:
    """Apply the plan; 201 when any image was created."""
    summary = images_import(plan=plan, actor=actor)
    body = ImportResponseSerializer(
        {
            **asdict(summary),
            "counts": summary.counts(),
            "results": [asdict(r) for r in summary.results],
            "labels_file": plan.labels_file,
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


def _paths(request: Request, files: list[UploadedFile]) -> list[str]:
    """Each file's path in its folder (`paths`), or its name."""
    data = request.data
    if not isinstance(data, QueryDict) or "paths" not in data:
        return [upload.name or "upload" for upload in files]
    raw: Sequence[str] = data.getlist("paths")
    if len(raw) != len(files):
        raise ValidationFailed(
            f"{len(raw)} 'paths' for {len(files)} files: send one per file, in the same order.",
            field="paths",
        )
    paths = [normalised(path) for path in raw]
    for path in paths:
        parts = path.split("/")
        if (
            not path
            or len(path) > MAX_PATH
            or path.startswith("/")
            or any(part in ("", ".", "..") for part in parts)
            or not path.isprintable()
        ):
            raise ValidationFailed(
                f"Not a relative path of a file: {path[:100]!r} (at most {MAX_PATH} "
                "characters, no empty, '.' or '..' parts).",
                field="paths",
            )
    return paths


def _labels_file_load(request: Request, options: dict[str, Any]) -> LabelsSource | None:
    """The labels file sent beside the files (None: none was), read as its format says."""
    sent = request.FILES.get("labels_file")
    labels_format = options.get("labels_format")
    if sent is None:
        if labels_format:
            raise ValidationFailed(
                "labels_format is the format of a labels file: send it in 'labels_file'.",
                field="labels_file",
            )
        return None
    if not labels_format:
        known = ", ".join(LABEL_FILE_SUFFIX)
        raise ValidationFailed(
            f"Name the labels file's format in labels_format: one of {known}.",
            field="labels_format",
        )
    if isinstance(request.data, QueryDict) and "labels" in request.data:
        raise ValidationFailed(
            "Send a label per file (labels) or the folder's labels file (labels_file), not both.",
            field="labels",
        )
    try:
        return labels_source_read(sent, labels_format=labels_format)
    except LabelSourceError as exc:
        raise ValidationFailed(f"{sent.name}: {exc}", field="labels_file") from exc
