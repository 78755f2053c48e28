"""What an image is, as query conditions: its agreement, its model's prediction, its review.

Every condition is an ORM expression correlated to the image row (``OuterRef("pk")``),
never raw SQL naming the image table: a filtered queryset stays valid as a subquery
(a bulk action's ``id__in``), where Django renames its tables. All of it runs on SQLite
and PostgreSQL alike; predictions' probabilities are read key by key from their JSON.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django.db.models import (
    BooleanField,
    Case,
    Count,
    Exists,
    Expression,
    F,
    FilteredRelation,
    FloatField,
    Func,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Value,
    When,
)
from django.db.models.functions import Coalesce, Greatest
from django.db.models.lookups import Exact, GreaterThanOrEqual, LessThan

from labeler.agreement.models import ReviewRequest
from labeler.agreement.review import review_candidates_recent
from labeler.agreement.rows import SETTLED
from labeler.annotations.models import Annotation, FinalLabel
from labeler.id_lists import ids_subquery
from labeler.predictions.models import ModelVersion, Prediction
from labeler.predictions.selectors import DEFAULT_THRESHOLD, current_model
from labeler.projects.models import Project

AnnotationLabel = Annotation.labels.through
FinalLabelLabel = FinalLabel.labels.through

UNANIMOUS, SPLIT, TIE = "unanimous", "split", "tie"
AGREEMENTS = (UNANIMOUS, SPLIT, TIE)


def _label_votes(image: Any) -> QuerySet:
    """Per label given to the image: how many annotators gave it (``votes``), most first."""
    return (
        AnnotationLabel.objects.filter(annotation__image_id=image)
        .order_by()
        .values("label_id", "annotation__image__annotation_count")
        .annotate(votes=Count("*"))
    )


# The image's annotation count, read through the join (an outer reference in HAVING is
# not valid SQL on SQLite).
RATERS = F("annotation__image__annotation_count")


def agreement_condition(kind: str, *, multi_label: bool) -> Q:
    """Images labelled by two or more annotators whose labels agree as ``kind`` says.

    unanimous: every label given was given by every annotator. tie: the vote cannot
    decide, by counts (single-label: two labels share the most votes; multi-label: a
    label has exactly half of them). split: neither.
    """
    # The count alone (no join): an Exists here lets PostgreSQL plan a semi-join over every
    # annotation, then sort, instead of walking the images in order until a page is full.
    rated = Q(annotation_count__gte=2)
    unanimous = ~Q(Exists(_label_votes(OuterRef("pk")).filter(votes__lt=RATERS)))
    tie = _tie_multi() if multi_label else _tie_single()
    if kind == UNANIMOUS:
        return rated & unanimous
    if kind == TIE:
        return rated & tie
    return rated & ~unanimous & ~tie


def _tie_single() -> Q:
    ranked = _label_votes(OuterRef("pk")).order_by("-votes").values("votes")
    return Q(Exact(Subquery(ranked[:1]), Subquery(ranked[1:2])))


def _tie_multi() -> Q:
    halves = _label_votes(OuterRef("pk")).annotate(doubled=F("votes") * 2).filter(doubled=RATERS)
    return Q(Exists(halves))


def review_condition(project: Project) -> Q:
    """Images waiting for a person: an open review request, or a consensus candidate no
    person has decided yet (as the review queue lists them, from its cached arrays at
    most a minute old). The candidates go to the database as one array parameter."""
    candidates = review_candidates_recent(project).image_ids
    settled = FinalLabel.objects.filter(image_id=OuterRef("pk"), method__in=SETTLED)
    requested = ReviewRequest.objects.filter(image_id=OuterRef("pk"), resolved_at__isnull=True)
    undecided = Q(pk__in=ids_subquery(candidates.tolist())) & ~Q(Exists(settled))
    return undecided | Q(Exists(requested))


# The current model's prediction --------------------------------------------------------


class _Probability(Func):
    """A label's probability in a prediction's JSON, keyed by the label id as text.

    Django's key lookups read a key of digits as an array index (``$[5]``, ``-> 5``), so
    the key is spelled out per database.
    """

    output_field = FloatField()

    def __init__(self, label_id: int, source: Any = None) -> None:
        super().__init__(source if source is not None else F("probabilities"))
        self.key = str(int(label_id))

    def as_sqlite(self, compiler: Any, connection: Any, **extra: Any) -> Any:
        sql, params = compiler.compile(self.source_expressions[0])
        return f"CAST(JSON_EXTRACT({sql}, %s) AS REAL)", (*params, f'$."{self.key}"')

    def as_postgresql(self, compiler: Any, connection: Any, **extra: Any) -> Any:
        sql, params = compiler.compile(self.source_expressions[0])
        return f"(({sql}) ->> %s)::double precision", (*params, self.key)


def _probability(label_id: int, source: Any = None) -> Expression:
    """The prediction's probability of a label, 0 where it holds none."""
    return Coalesce(_Probability(label_id, source), Value(0.0))


def _top_probability(label_ids: Sequence[int], source: Any = None) -> Expression:
    """The highest probability: the stored confidence (a single-label suggestion's), else
    computed from every label's."""
    confidence = OuterRef("confidence") if source is not None else F("confidence")
    if len(label_ids) == 1:
        return Coalesce(confidence, _probability(label_ids[0], source))
    computed = Greatest(*(_probability(label, source) for label in label_ids))
    return Coalesce(confidence, computed, output_field=FloatField())


def _threshold(model: ModelVersion, label_id: int) -> float:
    thresholds = model.metrics.get("thresholds") or {}
    return float(thresholds.get(str(label_id), DEFAULT_THRESHOLD))


def _predictions(model: ModelVersion) -> QuerySet[Prediction]:
    return Prediction.objects.filter(image_id=OuterRef("pk"), model_version=model)


def no_model() -> Q:
    """Matches nothing: the project has no current model to predict with."""
    return Q(pk__in=[])


def predicted_condition(project: Project, label_ids: Sequence[int]) -> Q:
    """Images the current model labels with any of these labels (multi-label: at or above
    the label's threshold)."""
    model = current_model(project)
    if model is None:
        return no_model()
    predictions = _predictions(model)
    if project.multi_label:
        chosen = Q()
        for label in label_ids:
            chosen |= Q(GreaterThanOrEqual(_probability(label), Value(_threshold(model, label))))
        return Q(Exists(predictions.filter(chosen)))
    labels = list(project.labels.values_list("pk", flat=True))
    top = _top_probability(labels)
    chosen = Q()
    for label in label_ids:
        chosen |= Q(GreaterThanOrEqual(_probability(label), top))
    return Q(Exists(predictions.filter(chosen)))


def model_confidence_condition(project: Project, *, low: float | None, high: float | None) -> Q:
    """Images whose current model's confidence lies in [low, high]."""
    model = current_model(project)
    if model is None:
        return no_model()
    predictions = _predictions(model)
    if low is not None:
        predictions = predictions.filter(confidence__gte=low)
    if high is not None:
        predictions = predictions.filter(confidence__lte=high)
    return Q(Exists(predictions))


CURRENT_PREDICTION = "current_prediction"


def current_prediction(project: Project) -> FilteredRelation:
    """The image's prediction by the project's current model, as a relation to join once
    (``CURRENT_PREDICTION``): its confidence sorts the browser in the order of the
    predictions' (model, confidence) index. Without a current model it joins nothing."""
    model = current_model(project)
    if model is None:
        return FilteredRelation("predictions", condition=Q(predictions__model_version=None))
    return FilteredRelation("predictions", condition=Q(predictions__model_version=model))


MODEL_CONFIDENT = "model_confident"


def model_confident(project: Project) -> Exists | Value:
    """Whether the current model has a confidence on the image (``MODEL_CONFIDENT``): its
    negation is an anti-join, which PostgreSQL walks in id order (a left join's missing
    rows it cannot count, and it hashed a million images)."""
    model = current_model(project)
    if model is None:
        return Value(False, output_field=BooleanField())
    return Exists(_predictions(model).filter(confidence__isnull=False))


def model_confidence(project: Project) -> Expression:
    """The current model's confidence on the image; -1 without a prediction (to sort by).

    A subquery, read for a page's rows only: the sort's runs walk ``current_prediction``,
    joined once by the run's own filter (a second filter would join the predictions
    again, and the index would no longer give the order)."""
    model = current_model(project)
    if model is None:
        return Value(-1.0, output_field=FloatField())
    confidence = _predictions(model).values("confidence")[:1]
    return Coalesce(Subquery(confidence, output_field=FloatField()), Value(-1.0))


def model_disagrees_condition(project: Project, *, disagrees: bool = True) -> Q:
    """Images with a final label that the current model's prediction does not match
    (``disagrees``), or does (not ``disagrees``); images without both match neither.

    Either way a condition the images are walked in order under until a page is full:
    "not disagrees" as a negation would have PostgreSQL hash every final label against
    every prediction first (half a second at a million images).
    """
    model = current_model(project)
    if model is None:
        return no_model()
    labels = list(project.labels.values_list("pk", flat=True))
    has_final = Exists(FinalLabel.objects.filter(image_id=OuterRef("pk")))
    if not labels:
        return no_model()
    predictions = _predictions(model)
    if project.multi_label:
        differs = Q()
        for label in labels:
            final_has = Exists(
                FinalLabelLabel.objects.filter(
                    finallabel__image_id=OuterRef("image_id"), label_id=label
                )
            )
            cut = Value(_threshold(model, label))
            chosen = GreaterThanOrEqual(_probability(label), cut)
            not_chosen = LessThan(_probability(label), cut)
            differs |= (Q(chosen) & ~Q(final_has)) | (Q(not_chosen) & Q(final_has))
        return Q(has_final) & Q(Exists(predictions.filter(differs if disagrees else ~differs)))
    # A final label the model does not rank first: its probability (picked by a CASE on the
    # label, read from the prediction's JSON) is below the prediction's top.
    source = OuterRef("probabilities")
    final_probability = Case(
        *(When(label_id=label, then=_probability(label, source)) for label in labels),
        default=Value(0.0),
        output_field=FloatField(),
    )
    below = FinalLabelLabel.objects.filter(finallabel__image_id=OuterRef("image_id")).filter(
        LessThan(final_probability, _top_probability(labels, source))
    )
    matched = Q(Exists(below)) if disagrees else ~Q(Exists(below))
    return Q(has_final) & Q(Exists(predictions.filter(matched)))
