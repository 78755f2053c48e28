"""The data browser's image filters: a registry, and the filtered, sorted images.

Each filter is a query parameter (``?status=complete&agreement=split``). Filters combine
(every one given must match); a filter given several values matches any of them
(``?status=gold&status=in_review``), except ``annotator`` with ``label``, which must hold
for one annotation. The Images page and ``GET /api/v1/projects/{id}/images/`` read the same
parameters; other modules add filters with ``register_filter``. Parameters that are not
filters (``sort``, ``cursor``, ``page_size``...) are left to the caller; an empty value is
no filter. Final labels are read as the latest consensus refresh left them (the background
refresh follows new labels within seconds): checking that they are current counts every
label change of the project, a quarter of a second on a million images, too dear for
every page.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from django.contrib.auth import get_user_model
from django.db.models import Exists, OuterRef, Q, QuerySet
from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime

from labeler.annotations.models import Annotation, FinalLabel, FinalLabelMethod, Skip
from labeler.browse import facts
from labeler.browse.sorts import SORTS, sort_apply
from labeler.errors import PermissionDenied, ValidationFailed
from labeler.images.models import Image
from labeler.projects.models import Label, Project
from labeler.projects.selectors import can_see_all_annotations, project_role

Apply = Callable[[QuerySet[Image], list[str], Project], QuerySet[Image]]
MAX_VALUES = 50
NAME_LENGTH = 255


@dataclass(frozen=True)
class ImageFilter:
    """One filter: its query parameter, what a person reads, what it takes, how it applies.

    ``kind`` tells forms and the API schema what a value is: "choice" (one of ``choices``),
    "label" (a label's id or name), "user" (an annotator's id or username), "integer",
    "number" (0 to 1), "date" (ISO 8601 date or time) or "text".
    """

    name: str
    label: str
    kind: str
    apply: Apply
    help: str = ""
    choices: tuple[tuple[str, str], ...] = ()
    many: bool = True  # whether it may be given several times (matching any)
    group: str = "image"  # where the page's form shows it
    extra: dict[str, Any] = field(default_factory=dict)


FILTERS: dict[str, ImageFilter] = {}


def register_filter(image_filter: ImageFilter) -> ImageFilter:
    """Add a filter to the registry (a module's import registers its own); names are unique."""
    if image_filter.name in FILTERS or image_filter.name in RESERVED:
        raise ValueError(f"A filter or parameter named {image_filter.name!r} exists already.")
    FILTERS[image_filter.name] = image_filter
    return image_filter


# Given together, these hold for one annotation (an annotator gave that label).
JOINT = frozenset({"annotator", "label"})
RESERVED = ("sort", "cursor", "page_size", "view", "format", "page")


def images_filtered(project: Project, params: Mapping[str, Any], *, user: Any) -> QuerySet[Image]:
    """The project's images that match every filter in ``params``, in its ``sort`` order.

    Raises ValidationFailed naming the parameter for a value it cannot read, and
    PermissionDenied when an annotator (who labels blind) asks for any filter or sort.
    """
    given = {name: values for name in FILTERS if (values := param_values(params, name))}
    sort = (param_values(params, "sort") or ["id"])[-1]
    if (given or sort != "id") and not _sees_all(project, user):
        raise PermissionDenied(
            "Annotators label blind: only leads, reviewers and admins filter or sort images "
            "by their labels, status or predictions."
        )
    images = Image.objects.filter(project=project)
    for name, values in given.items():
        image_filter = FILTERS[name]
        if len(values) > MAX_VALUES:
            raise ValidationFailed(f"{name}: at most {MAX_VALUES} values.", field=name)
        if not image_filter.many and len(values) > 1:
            raise ValidationFailed(f"{name} is given once, not {len(values)} times.", field=name)
        if name not in JOINT or not JOINT.issubset(given):
            images = image_filter.apply(images, values, project)
    if JOINT.issubset(given):  # one annotation by one of these annotators with one of the labels
        images = _annotated(
            images,
            {
                "annotator": user_ids("annotator", given["annotator"]),
                "label": label_ids("label", given["label"], project),
            },
        )
    return sort_apply(images, sort, project)


def param_values(params: Mapping[str, Any], name: str) -> list[str]:
    """Every non-empty value of a parameter, from a QueryDict or a mapping of lists."""
    raw = params.getlist(name) if hasattr(params, "getlist") else params.get(name, [])
    values = [raw] if isinstance(raw, str) else list(raw or [])
    return [str(value).strip() for value in values if str(value).strip()]


def _sees_all(project: Project, user: Any) -> bool:
    return can_see_all_annotations(user=user, role=project_role(user=user, project=project))


# Reading values -------------------------------------------------------------------------


def choice_values(name: str, values: list[str], choices: Sequence[tuple[str, str]]) -> list[str]:
    known = [value for value, _ in choices]
    for value in values:
        if value not in known:
            raise ValidationFailed(
                f"{name}: unknown value {value!r}; use one of {', '.join(known)}.", field=name
            )
    return values


def label_ids(name: str, values: list[str], project: Project) -> list[int]:
    """Labels of the project by id or (any case) name."""
    labels = list(Label.objects.filter(project=project).values_list("pk", "name"))
    by_name = {label_name.casefold(): pk for pk, label_name in labels}
    ids = {pk for pk, _ in labels}
    found = []
    for value in values:
        pk = int(value) if value.isascii() and value.isdigit() else by_name.get(value.casefold())
        if pk not in ids:
            raise ValidationFailed(
                f"{name}: {value!r} is not a label of this project (give its id or name).",
                field=name,
            )
        found.append(pk)
    return found


def user_ids(name: str, values: list[str]) -> list[int]:
    """Users by id or username; an unknown one is a 400."""
    users = get_user_model().objects
    found = []
    for value in values:
        if value.isascii() and value.isdigit():
            pk = users.filter(pk=int(value)).values_list("pk", flat=True).first()
        else:
            pk = users.filter(username=value).values_list("pk", flat=True).first()
        if pk is None:
            raise ValidationFailed(f"{name}: no user {value!r}.", field=name)
        found.append(pk)
    return found


def integer_value(name: str, values: list[str]) -> int:
    value = values[-1]
    if not (value.isascii() and value.isdigit()) or int(value) > 10_000:
        raise ValidationFailed(f"{name}: {value!r} is not a whole number from 0.", field=name)
    return int(value)


def number_value(name: str, values: list[str]) -> float:
    value = values[-1]
    try:
        number = float(value)
    except ValueError:
        number = -1.0
    if not 0.0 <= number <= 1.0:  # also refuses nan
        raise ValidationFailed(f"{name}: {value!r} is not a number from 0 to 1.", field=name)
    return number


def moment_value(name: str, values: list[str], *, end: bool) -> dt.datetime:
    """An ISO 8601 date or time; a date covers its whole day (``end``: up to its end)."""
    value = values[-1]
    try:  # a date first: Python reads "2026-01-31" as a time too (midnight)
        day = parse_date(value) if len(value) <= 10 else None
        moment = None if day else parse_datetime(value)
    except ValueError:
        moment = day = None
    if day is not None:
        moment = dt.datetime.combine(day + dt.timedelta(days=1) if end else day, dt.time())
    if moment is None or not 1900 <= moment.year <= 9000:
        raise ValidationFailed(
            f"{name}: {value!r} is not a date (2026-01-31) or a time (2026-01-31T12:00).",
            field=name,
        )
    if timezone.is_naive(moment):
        moment = timezone.make_aware(moment)
    return moment.astimezone(dt.UTC)


# The filters -------------------------------------------------------------------------------

STATUSES = (
    ("not_started", "Not started"),
    ("in_progress", "In progress"),
    ("complete", "Complete"),
    ("skipped", "Skipped"),
    ("gold", "Gold"),
    ("in_review", "In review"),
)


def _status(images: QuerySet[Image], values: list[str], project: Project) -> QuerySet[Image]:
    condition = Q()
    for value in choice_values("status", values, STATUSES):
        if value == "not_started":
            condition |= Q(annotation_count=0)
        elif value == "in_progress":
            condition |= Q(annotation_count__gt=0, is_complete=False)
        elif value == "complete":
            condition |= Q(is_complete=True)
        elif value == "skipped":
            condition |= Q(Exists(Skip.objects.filter(image_id=OuterRef("pk"))))
        elif value == "gold":
            condition |= Q(final_label__method=FinalLabelMethod.GOLD)
        else:
            condition |= facts.review_condition(project)
    return images.filter(condition)


def _final_label(images: QuerySet[Image], values: list[str], project: Project) -> QuerySet[Image]:
    none = [value for value in values if value.casefold() == "none"]
    ids = label_ids("final_label", [v for v in values if v not in none], project)
    condition = Q(final_label__isnull=True) if none else Q()
    if ids:
        labelled = FinalLabel.labels.through.objects.filter(
            finallabel__image_id=OuterRef("pk"), label_id__in=ids
        )
        condition |= Q(Exists(labelled))
    return images.filter(condition)


def _final_method(images: QuerySet[Image], values: list[str], project: Project) -> QuerySet[Image]:
    methods = choice_values("final_method", values, FinalLabelMethod.choices)
    return images.filter(final_label__method__in=methods)


def _annotated(images: QuerySet[Image], params: dict[str, list[int]]) -> QuerySet[Image]:
    annotations = Annotation.objects.filter(image_id=OuterRef("pk"))
    if "annotator" in params:
        annotations = annotations.filter(annotator_id__in=params["annotator"])
    if "label" in params:
        annotations = annotations.filter(labels__in=params["label"])
    return images.filter(Exists(annotations))


def _annotator(images: QuerySet[Image], values: list[str], project: Project) -> QuerySet[Image]:
    # With ``label`` too, both hold for one annotation: the label filter joins it.
    return _annotated(images, {"annotator": user_ids("annotator", values)})


def _label(images: QuerySet[Image], values: list[str], project: Project) -> QuerySet[Image]:
    return _annotated(images, {"label": label_ids("label", values, project)})


def _labels_min(images: QuerySet[Image], values: list[str], project: Project) -> QuerySet[Image]:
    return images.filter(annotation_count__gte=integer_value("labels_min", values))


def _labels_max(images: QuerySet[Image], values: list[str], project: Project) -> QuerySet[Image]:
    return images.filter(annotation_count__lte=integer_value("labels_max", values))


def _agreement(images: QuerySet[Image], values: list[str], project: Project) -> QuerySet[Image]:
    choices = [(kind, kind.capitalize()) for kind in facts.AGREEMENTS]
    condition = Q()
    for kind in choice_values("agreement", values, choices):
        condition |= facts.agreement_condition(kind, multi_label=project.multi_label)
    return images.filter(condition)


def _range(field_name: str, bound: str) -> Apply:
    def apply(images: QuerySet[Image], values: list[str], project: Project) -> QuerySet[Image]:
        name = f"{field_name}_{bound}"
        number = number_value(name, values)
        if field_name == "confidence":
            lookup = "gte" if bound == "min" else "lte"
            return images.filter(**{f"final_label__confidence__{lookup}": number})
        low, high = (number, None) if bound == "min" else (None, number)
        return images.filter(facts.model_confidence_condition(project, low=low, high=high))

    return apply


def _predicted(images: QuerySet[Image], values: list[str], project: Project) -> QuerySet[Image]:
    ids = label_ids("predicted", values, project)
    return images.filter(facts.predicted_condition(project, ids))


def _yes_no(name: str, value: str) -> bool:
    if value not in ("true", "false"):
        raise ValidationFailed(f"{name}: {value!r} is neither true nor false.", field=name)
    return value == "true"


def _model_disagrees(
    images: QuerySet[Image], values: list[str], project: Project
) -> QuerySet[Image]:
    disagrees = _yes_no("model_disagrees", values[-1])
    return images.filter(facts.model_disagrees_condition(project, disagrees=disagrees))


SUGGESTIONS = (
    ("shown", "Shown to an annotator"),
    ("accepted", "Accepted as shown"),
    ("changed", "Shown, then changed"),
    ("not_shown", "Labelled without one"),
)


def _suggestion(images: QuerySet[Image], values: list[str], project: Project) -> QuerySet[Image]:
    kinds = {
        "shown": Q(suggestion_shown=True),
        "accepted": Q(suggestion_accepted=True),
        "changed": Q(suggestion_shown=True, suggestion_accepted=False),
        "not_shown": Q(suggestion_shown=False),
    }
    condition = Q()
    for value in choice_values("suggestion", values, SUGGESTIONS):
        condition |= Q(Exists(Annotation.objects.filter(kinds[value], image_id=OuterRef("pk"))))
    return images.filter(condition)


def _uploaded(bound: str) -> Apply:
    def apply(images: QuerySet[Image], values: list[str], project: Project) -> QuerySet[Image]:
        name = f"uploaded_{bound}"
        moment = moment_value(name, values, end=bound == "before")
        lookup = "gte" if bound == "after" else "lt"
        return images.filter(**{f"created_at__{lookup}": moment})

    return apply


def _name(images: QuerySet[Image], values: list[str], project: Project) -> QuerySet[Image]:
    condition = Q()
    for value in values:
        if len(value) > NAME_LENGTH:
            raise ValidationFailed(f"name: at most {NAME_LENGTH} characters.", field="name")
        condition |= Q(original_name__icontains=value)
    return images.filter(condition)


for _filter in (
    ImageFilter("status", "Status", "choice", _status, choices=STATUSES, group="status",
                help="Not started, in progress, complete, skipped, gold, or waiting for review."),
    ImageFilter("final_label", "Final label", "label", _final_label, group="labels",
                help='The final label, by id or name; "none": no final label yet.'),
    ImageFilter("final_method", "Decided by", "choice", _final_method, group="labels",
                choices=tuple(FinalLabelMethod.choices), help="How the final label was decided."),
    ImageFilter("annotator", "Labelled by", "user", _annotator, group="labels",
                help="An annotator (id or username) labelled it; with label: gave that label."),
    ImageFilter("label", "An annotator's label", "label", _label, group="labels",
                help="Some annotator gave this label (id or name)."),
    ImageFilter("labels_min", "Labels, at least", "integer", _labels_min, many=False,
                group="labels", help="Labelled by at least this many annotators."),
    ImageFilter("labels_max", "Labels, at most", "integer", _labels_max, many=False,
                group="labels", help="Labelled by at most this many annotators."),
    ImageFilter("agreement", "Agreement", "choice", _agreement, group="labels",
                choices=tuple((kind, kind.capitalize()) for kind in facts.AGREEMENTS),
                help="Among two or more annotators: unanimous, split, or a tie of votes."),
    ImageFilter("confidence_min", "Consensus confidence, from", "number",
                _range("confidence", "min"), many=False, group="labels",
                help="The final label's confidence at least this (0 to 1)."),
    ImageFilter("confidence_max", "Consensus confidence, to", "number",
                _range("confidence", "max"), many=False, group="labels",
                help="The final label's confidence at most this (0 to 1)."),
    ImageFilter("predicted", "Model predicts", "label", _predicted, group="model",
                help="The current model's most probable label (multi-label: any above its "
                "threshold), by id or name."),
    ImageFilter("model_confidence_min", "Model confidence, from", "number",
                _range("model_confidence", "min"), many=False, group="model",
                help="The current model's confidence at least this (0 to 1)."),
    ImageFilter("model_confidence_max", "Model confidence, to", "number",
                _range("model_confidence", "max"), many=False, group="model",
                help="The current model's confidence at most this (0 to 1)."),
    ImageFilter("model_disagrees", "Model disagrees", "choice", _model_disagrees, many=False,
                choices=(("true", "Yes"), ("false", "No, it agrees")), group="model",
                help="true: the current model's prediction differs from the final label; "
                     "false: it matches it (images without both match neither)."),
    ImageFilter("suggestion", "Suggestion", "choice", _suggestion, choices=SUGGESTIONS,
                group="model", help="How an annotator met the model's suggestion."),
    ImageFilter("uploaded_after", "Uploaded from", "date", _uploaded("after"), many=False,
                help="Uploaded on or after this date or time (ISO 8601)."),
    ImageFilter("uploaded_before", "Uploaded to", "date", _uploaded("before"), many=False,
                help="Uploaded before this time, or on or before this date (ISO 8601)."),
    ImageFilter("name", "File name contains", "text", _name,
                help="The file name contains this text (any case)."),
):  # fmt: skip
    register_filter(_filter)

__all__ = ["FILTERS", "SORTS", "ImageFilter", "images_filtered", "register_filter"]

# Filters of other features, registered on import: last, since they use the registry above.
from labeler.browse import duplicate_filters, label_check_filters  # noqa: E402, F401
