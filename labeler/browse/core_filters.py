"""The data browser's own filters: status, labels, the model's predictions, upload and name.

Listed in ``IMAGE_FILTERS``, first in the registry (``labeler.browse.filters``).
"""

from __future__ import annotations

from django.db.models import Exists, OuterRef, Q, QuerySet

from labeler.annotations.models import Annotation, FinalLabel, FinalLabelMethod, Skip
from labeler.browse import facts
from labeler.browse.image_filter import Apply, ImageFilter
from labeler.browse.values import (
    boolean_value,
    choice_values,
    integer_value,
    label_ids,
    moment_value,
    number_value,
    text_value,
    user_ids,
)
from labeler.images.models import Image
from labeler.projects.models import Project

NAME_LENGTH = 255

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


def annotated(images: QuerySet[Image], params: dict[str, list[int]]) -> QuerySet[Image]:
    annotations = Annotation.objects.filter(image_id=OuterRef("pk"))
    if "annotator" in params:
        annotations = annotations.filter(annotator_id__in=params["annotator"])
    if "label" in params:
        annotations = annotations.filter(labels__in=params["label"])
    return images.filter(Exists(annotations))


def _annotator(images: QuerySet[Image], values: list[str], project: Project) -> QuerySet[Image]:
    # With ``label`` too, both hold for one annotation: the label filter joins it.
    return annotated(images, {"annotator": user_ids("annotator", values, project)})


def _label(images: QuerySet[Image], values: list[str], project: Project) -> QuerySet[Image]:
    return annotated(images, {"label": label_ids("label", values, project)})


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


IMAGE_FILTERS = (
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
)  # fmt: skip
