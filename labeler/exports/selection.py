"""Which images an export holds: the options' filters as one SQL query over a project."""

from __future__ import annotations

from dataclasses import dataclass

from django.contrib.auth import get_user_model
from django.db.models import Exists, OuterRef, Q, QuerySet

from labeler.annotations.models import Annotation, FinalLabel, FinalLabelMethod
from labeler.errors import ValidationFailed
from labeler.exports.options import ExportOptions
from labeler.id_lists import ids_subquery
from labeler.images.models import Image
from labeler.projects.models import Project

# Final labels a person decided or confirmed; without a confidence they count as certain,
# as do labels imported with the images (consensus never had a say in them).
REVIEWED_METHODS = (FinalLabelMethod.ADJUDICATED, FinalLabelMethod.GOLD, FinalLabelMethod.MACHINE)
CERTAIN_METHODS = (*REVIEWED_METHODS, FinalLabelMethod.IMPORTED)


@dataclass(frozen=True)
class Selection:
    """The images to export, and the ids the options' names stand for."""

    project: Project
    images: QuerySet[Image]
    annotator_id: int | None
    label_names: dict[int, str]


def export_selection(project: Project, options: ExportOptions) -> Selection:
    """The project's images the options select (all but min_agreement, checked per row)."""
    label_names = dict(project.labels.values_list("pk", "name"))
    annotator_id = _annotator_id(options.annotator)
    images = Image.objects.filter(project=project)
    if options.final_only or _needs_final(options):
        images = images.filter(final_label__isnull=False)
    if options.reviewed_only:
        images = images.filter(final_label__method__in=REVIEWED_METHODS)
    if options.min_confidence is not None:
        images = images.filter(
            Q(final_label__confidence__gte=options.min_confidence)
            | Q(final_label__confidence__isnull=True, final_label__method__in=CERTAIN_METHODS)
        )
    if annotator_id is not None:
        images = images.filter(Exists(_annotations().filter(annotator_id=annotator_id)))
    if options.label is not None:
        images = images.filter(_has_label(_label_id(options.label, label_names), options))
    if options.since is not None or options.until is not None:
        images = images.filter(_updated_between(options))
    if options.image_ids is not None:
        images = images.filter(pk__in=ids_subquery(options.image_ids))
    return Selection(
        project=project, images=images, annotator_id=annotator_id, label_names=label_names
    )


def export_count(project: Project, options: ExportOptions) -> int:
    """How many images the selection holds before the per-row min_agreement check."""
    return export_selection(project, options).images.count()


def _needs_final(options: ExportOptions) -> bool:
    return (
        options.reviewed_only
        or options.min_confidence is not None
        or options.min_agreement is not None
    )


def _annotator_id(username: str | None) -> int | None:
    if username is None:
        return None
    found = get_user_model().objects.filter(username=username).values_list("pk", flat=True)
    if not found:
        raise ValidationFailed(f"No user is named {username!r}.", field="annotator")
    return int(found[0])


def _label_id(name: str, label_names: dict[int, str]) -> int:
    for pk, label_name in label_names.items():
        if label_name == name:
            return pk
    raise ValidationFailed(
        f"The project has no label {name!r}; it has {', '.join(label_names.values())}.",
        field="label",
    )


def _annotations() -> QuerySet[Annotation]:
    return Annotation.objects.filter(image_id=OuterRef("pk"))


def _has_label(label_id: int, options: ExportOptions) -> Q:
    final = FinalLabel.labels.through.objects.filter(
        finallabel__image_id=OuterRef("pk"), label_id=label_id
    )
    if options.final_only:
        return Q(Exists(final))
    given = Annotation.labels.through.objects.filter(
        annotation__image_id=OuterRef("pk"), label_id=label_id
    )
    return Q(Exists(final)) | Q(Exists(given))


def _updated_between(options: ExportOptions) -> Q:
    """The final label (or, with every annotation, any annotation) updated in the window."""
    window = {}
    if options.since is not None:
        window["updated_at__gte"] = options.since
    if options.until is not None:
        window["updated_at__lte"] = options.until
    final = Q(**{f"final_label__{key}": value for key, value in window.items()})
    if options.final_only:
        return final
    return final | Q(Exists(_annotations().filter(**window)))
