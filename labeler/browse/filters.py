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

import difflib
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field
from typing import Any

from django.db.models import Exists, OuterRef, Q, QuerySet

from labeler.annotations.models import Annotation, FinalLabel, FinalLabelMethod, Skip
from labeler.browse import facts
from labeler.browse.sorts import SORTS, sort_apply
from labeler.browse.values import (
    MAX_VALUES,
    boolean_value,
    choice_values,
    integer_value,
    label_ids,
    moment_value,
    number_value,
    param_values,
    text_value,
    user_ids,
)
from labeler.errors import PermissionDenied, ValidationFailed
from labeler.images.models import Image
from labeler.projects.models import Project
from labeler.projects.selectors import can_manage, can_see_all_annotations, project_role
from labeler.text_in import text_unsafe_find

Apply = Callable[[QuerySet[Image], list[str], Project], QuerySet[Image]]
NAME_LENGTH = 255
# Who may use a filter: every member, leads, reviewers and admins (who see every
# annotation: annotators label blind), or leads and admins only.
AUDIENCES = ("members", "overseers", "managers")


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
    group: str = "image"  # where the page's form shows it ("": the API's only)
    audience: str = "overseers"  # who may use it (AUDIENCES)
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
# Parameters that are not filters, read by the routes that take them (see ``reads``).
RESERVED = ("sort", "cursor", "page_size", "view", "format", "page")


def images_filtered(
    project: Project,
    params: Mapping[str, Any],
    *,
    user: Any,
    reads: Collection[str] = ("sort",),
    empty_is_none: bool = False,
) -> QuerySet[Image]:
    """The project's images that match every filter in ``params``, in its ``sort`` order.

    The one reader of image filters: the images list, the Images page, the bulk count
    and every bulk action's selection call it. ``reads`` names the other parameters the
    caller reads itself (``sort`` is read here); any other key, unknown or one the caller
    cannot apply (a cursor in a selection), is a 400 naming it, as is an empty value
    unless ``empty_is_none`` (a page's form sends its empty fields). Raises
    ValidationFailed naming the parameter for a value it cannot read, and
    PermissionDenied when a filter is not for the caller's role (annotators label blind).
    """
    given = _given(params, reads=reads, empty_is_none=empty_is_none)
    sort = _sort_given(params, empty_is_none=empty_is_none)
    _check_audience(project, user, given, sorted_by=sort)
    images = Image.objects.filter(project=project)
    for name, values in given.items():
        image_filter = FILTERS[name]
        if len(values) > MAX_VALUES:
            raise ValidationFailed(f"At most {MAX_VALUES} values, not {len(values)}.", field=name)
        if not image_filter.many and len(values) > 1:
            raise ValidationFailed(f"{name} is given once, not {len(values)} times.", field=name)
        if name not in JOINT or not JOINT.issubset(given):
            images = image_filter.apply(images, values, project)
    if JOINT.issubset(given):  # one annotation by one of these annotators with one of the labels
        images = _annotated(
            images,
            {
                "annotator": user_ids("annotator", given["annotator"], project),
                "label": label_ids("label", given["label"], project),
            },
        )
    return sort_apply(images, sort, project)


def filter_keys_check(params: Mapping[str, Any], *, reads: Collection[str] = ("sort",)) -> None:
    """Refuse (ValidationFailed naming it) a key that is neither a filter nor in ``reads``."""
    for key in params:
        if key in FILTERS or key in reads or key == "sort":
            continue
        if key in RESERVED:
            raise ValidationFailed(
                f"{key}: not taken here; this takes the image filters and sort only.", field=key
            )
        close = difflib.get_close_matches(key, [*FILTERS, *reads, "sort"], n=1)
        hint = f"did you mean {close[0]!r}?" if close else "see the filters in the API schema."
        # A key no text can hold (NUL, a lone surrogate) is named as written in Python.
        named = str(key) if text_unsafe_find(str(key)) is None else ascii(key)
        raise ValidationFailed(f"Unknown filter {key!r}; {hint}", field=named)


def _given(
    params: Mapping[str, Any], *, reads: Collection[str], empty_is_none: bool
) -> dict[str, list[str]]:
    filter_keys_check(params, reads=reads)
    given = {}
    for name in FILTERS:
        values = param_values(params, name)
        # Every empty value is refused, one beside others too (status=gold&status=): a
        # selection is exactly what its query string says, or a 400 naming what it cannot.
        if not empty_is_none and name in params and len(values) < _sent_count(params, name):
            raise ValidationFailed(f"{name} is empty: give a value or leave it out.", field=name)
        if values:
            given[name] = values
    return given


def _sort_given(params: Mapping[str, Any], *, empty_is_none: bool) -> str:
    """The one ``sort`` asked for (``id`` when none): given twice or empty, where no page's
    form sends it so, is a 400 rather than a quiet choice of one order."""
    values = param_values(params, "sort")
    if empty_is_none:  # a page: its forms keep the order they were opened with
        return values[-1] if values else "id"
    if "sort" in params and _sent_count(params, "sort") > 1:
        raise ValidationFailed(
            f"sort is given once, not {_sent_count(params, 'sort')} times.", field="sort"
        )
    if "sort" in params and not values:
        raise ValidationFailed("sort is empty: give an order or leave it out.", field="sort")
    return values[-1] if values else "id"


def _sent_count(params: Mapping[str, Any], name: str) -> int:
    """How many values of ``name`` were sent, empty ones included."""
    raw = params.getlist(name) if hasattr(params, "getlist") else params.get(name, [])
    return 1 if isinstance(raw, str) else len(list(raw or [""]))


def _check_audience(project: Project, user: Any, given: Mapping[str, Any], sorted_by: str) -> None:
    role = project_role(user=user, project=project)
    audiences = {FILTERS[name].audience for name in given}
    if "managers" in audiences and not can_manage(user=user, project=project, role=role):
        raise PermissionDenied(
            "Only the project's leads and admins see where photos were taken (has_gps)."
        )
    overseen = audiences - {"members"} or sorted_by != "id"
    if overseen and not can_see_all_annotations(user=user, role=role):
        raise PermissionDenied(
            "Annotators label blind: only leads, reviewers and admins filter images by their "
            "metadata, labels, status or predictions, or sort them."
        )


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
    return _annotated(images, {"annotator": user_ids("annotator", values, project)})


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


def _model_disagrees(
    images: QuerySet[Image], values: list[str], project: Project
) -> QuerySet[Image]:
    disagrees = boolean_value("model_disagrees", values)
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
        condition |= Q(original_name__icontains=text_value("name", value, most=NAME_LENGTH))
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

__all__ = [
    "FILTERS",
    "SORTS",
    "ImageFilter",
    "filter_keys_check",
    "images_filtered",
    "param_values",
    "register_filter",
]

# Filters of other features, registered on import: last, since they use the registry above.
from labeler.browse import (  # noqa: E402, F401
    duplicate_filters,
    label_check_filters,
    metadata_filters,
)
