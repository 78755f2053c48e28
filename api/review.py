"""The review queue and people's decisions on final labels (reviewers, leads, admins).

Reviewers, leads and admins read the queue and adjudicate; only leads and admins mark
gold images (a known answer), change a gold image's label or take a decision back.
"""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import (
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
    extend_schema_field,
)
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response

from api.agreement import QualityView
from api.fields import IdField
from api.idempotency import IDEMPOTENCY_KEY, idempotent
from api.images import ImageSerializer, stored_file_url
from api.inputs import KnownKeys, StrictInput
from api.pagination import NewestFirst, PageNumbers
from api.queue import SuggestionSerializer
from labeler.agreement import review
from labeler.agreement import services as agreement_services
from labeler.agreement.models import ReviewRequest
from labeler.agreement.review_requests import GroupImage, requests_group_images
from labeler.agreement.rows import HUMAN_DECISIONS
from labeler.annotations.models import FinalLabel, FinalLabelMethod
from labeler.errors import PermissionDenied, ValidationFailed
from labeler.predictions import review as model_review
from labeler.projects.models import Label
from labeler.words import noun

METHODS = [method.value for method in HUMAN_DECISIONS]


class FinalLabelSerializer(serializers.ModelSerializer):
    label_ids = serializers.PrimaryKeyRelatedField[Label](
        source="labels", many=True, read_only=True
    )
    decided_by = serializers.CharField(
        source="decided_by.username",
        read_only=True,
        allow_null=True,
        help_text="Username of the person who decided; null for consensus.",
    )

    class Meta:
        model = FinalLabel
        fields = ["image", "label_ids", "method", "confidence", "decided_by", "updated_at"]
        read_only_fields = fields


class ConsensusSerializer(serializers.Serializer):
    label_ids = serializers.ListField(
        child=serializers.IntegerField(), help_text="Empty for a tie."
    )
    confidence = serializers.FloatField(allow_null=True)
    method = serializers.CharField(help_text="The project's consensus method.")


class ReviewAnnotationSerializer(serializers.Serializer):
    id = serializers.IntegerField(help_text="Id of the annotation.")
    annotator = serializers.IntegerField(help_text="Id of the annotator.")
    username = serializers.CharField()
    label_ids = serializers.ListField(child=serializers.IntegerField())
    updated_at = serializers.DateTimeField()


class GroupImageSerializer(serializers.Serializer):
    id = serializers.IntegerField(help_text="Id of the image.")
    original_name = serializers.CharField()
    thumbnail_url = serializers.CharField(allow_null=True, help_text="Null until rendered.")
    final_label_ids = serializers.ListField(
        child=serializers.IntegerField(),
        allow_null=True,
        help_text="Its final labels now; null until decided.",
    )


class ReviewRequestSerializer(serializers.Serializer):
    reason = serializers.CharField(
        help_text='Why it was sent: "requested" (a lead sent it), "model_disagrees", ...'
    )
    detail = serializers.JSONField(help_text="What the reviewer should know (free form).")
    group_images = serializers.SerializerMethodField(
        help_text="For a duplicate_labels_differ request: the images of the near-duplicate "
        "group its image is in now (groups merge as images come), with their final labels "
        "now; else empty."
    )
    requested_by = serializers.CharField(
        source="requested_by.username",
        allow_null=True,
        default=None,
        help_text="Username of who sent it; null when a feature filed it.",
    )
    created_at = serializers.DateTimeField()

    @extend_schema_field(GroupImageSerializer(many=True))
    def get_group_images(self, filed: ReviewRequest) -> list[dict[str, Any]]:
        # By request: the group its image is in now, which may have merged since filing.
        members: list[GroupImage] = self.context.get("group_images", {}).get(filed.pk, [])
        return [
            {
                "id": member.id,
                "original_name": member.original_name,
                "thumbnail_url": stored_file_url(self.context, member.thumbnail)
                if member.thumbnail
                else None,
                "final_label_ids": member.final_label_ids,
            }
            for member in members
        ]


class ReviewItemSerializer(serializers.Serializer):
    image = ImageSerializer()
    reason = serializers.ChoiceField(
        choices=review.QUEUE_REASONS,
        allow_null=True,
        help_text="Why a person should decide: requested (explicit requests, listed in "
        "`requests`) or the consensus's tie, low_confidence or disagreement; null when the "
        "image is not in the queue.",
    )
    requests = ReviewRequestSerializer(
        many=True, help_text="The image's open review requests, oldest first."
    )
    consensus = ConsensusSerializer(allow_null=True)
    annotations = ReviewAnnotationSerializer(many=True)
    suggestion = SuggestionSerializer(
        allow_null=True, help_text="The current model's labels for the image, if it has any."
    )
    final_label = FinalLabelSerializer(allow_null=True)


class ReasonCountsSerializer(serializers.Serializer):
    requested = serializers.IntegerField(help_text="Images with an open review request.")
    tie = serializers.IntegerField()
    low_confidence = serializers.IntegerField()
    disagreement = serializers.IntegerField()


class ReviewPageSerializer(serializers.Serializer):
    count = serializers.IntegerField(help_text="Images in the queue (of the reason asked for).")
    reasons = ReasonCountsSerializer(help_text="Images in the whole queue, per reason.")
    next = serializers.URLField(allow_null=True)
    previous = serializers.URLField(allow_null=True)
    results = ReviewItemSerializer(many=True)


class DecisionSerializer(KnownKeys, StrictInput, serializers.Serializer):
    image = IdField(help_text="Id of an image of this project.")
    labels = serializers.ListField(
        child=serializers.JSONField(), allow_empty=True, help_text="Label names or ids."
    )
    method = serializers.ChoiceField(
        choices=METHODS,
        default=FinalLabelMethod.ADJUDICATED.value,
        help_text="adjudicated (a review) or gold (a known answer; leads and admins only).",
    )


MAX_BATCH = 200  # decisions in one batch: a page of the grid is at most 48


class DecisionBatchSerializer(KnownKeys, StrictInput, serializers.Serializer):
    decisions = serializers.ListField(
        child=DecisionSerializer(),
        allow_empty=False,
        max_length=MAX_BATCH,
        help_text=f"1 to {MAX_BATCH} decisions, each image at most once.",
    )


class DecisionBatchResultSerializer(serializers.Serializer):
    decisions = FinalLabelSerializer(many=True, help_text="The final labels, in the batch's order.")


class ReviewPagination(PageNumbers):
    """Pages of the queue in its order (most uncertain first)."""

    page_size = 20
    page_size_query_param = "page_size"
    max_page_size = 200


class ReviewListView(QualityView):
    """The images waiting for a person's decision, most uncertain first."""

    @extend_schema(
        operation_id="projects_review_list",
        parameters=[
            OpenApiParameter("reason", str, enum=review.QUEUE_REASONS),
            OpenApiParameter("page", int),
            OpenApiParameter("page_size", int),
        ],
        responses={200: ReviewPageSerializer},
    )
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        self.require_overseer()
        queue = review.review_queue(self.project, reason=request.query_params.get("reason"))
        paginator = ReviewPagination()
        entries = paginator.paginate_queryset(queue, request, view=self) or []
        items = model_review.review_items(self.project, entries)
        context = _context(self, items)
        body = {
            "count": len(queue),
            "reasons": queue.counts,
            "next": paginator.get_next_link(),
            "previous": paginator.get_previous_link(),
            "results": items,
        }
        return Response(ReviewPageSerializer(body, context=context).data)


class ReviewDetailView(QualityView):
    """One image's review item: its annotations, consensus, suggestion and decision."""

    @extend_schema(responses={200: ReviewItemSerializer})
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        self.require_overseer()
        item = model_review.review_item(self.project, int(self.kwargs["image_id"]))
        context = _context(self, [item])
        return Response(ReviewItemSerializer(item, context=context).data)


def _context(view: QualityView, items: list[review.ReviewItem]) -> dict[str, Any]:
    """The serializers' context: the view's (the caller, what they may see of images), and
    the near-duplicate groups the items' requests name, read at once for the whole page."""
    requests = [r for item in items for r in item.requests]
    groups = requests_group_images(view.project, requests)
    return {**view.get_serializer_context(), "group_images": groups}


class DecisionListView(QualityView):
    """People's decisions: list them, or decide an image's final label."""

    pagination_class = NewestFirst

    @extend_schema(
        parameters=[OpenApiParameter("method", str, enum=METHODS)],
        responses={200: FinalLabelSerializer(many=True)},
    )
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        self.require_overseer()
        methods = METHODS
        method = request.query_params.get("method")
        if method is not None:
            if method not in METHODS:
                known = ", ".join(METHODS)
                raise ValidationFailed(
                    f"Unknown method {method!r}; use one of {known}.", field="method"
                )
            methods = [method]
        decisions = (
            FinalLabel.objects.filter(image__project=self.project, method__in=methods)
            .select_related("decided_by")
            .prefetch_related("labels")
        )
        page = self.paginate_queryset(decisions)
        return self.get_paginated_response(FinalLabelSerializer(page, many=True).data)

    @extend_schema(
        request=DecisionSerializer,
        responses={
            201: FinalLabelSerializer,
            400: OpenApiResponse(description="Unknown image or labels, or labels not allowed."),
            403: OpenApiResponse(description="Gold is for leads and admins."),
        },
    )
    def post(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        """Decide an image's final label: `{"image": id, "labels": [...], "method": "gold"}`."""
        self.require_overseer()
        data = DecisionSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        image_id, method = data.validated_data["image"], data.validated_data["method"]
        if method == FinalLabelMethod.GOLD and not self.can_manage:
            raise PermissionDenied("Only the project's leads and admins mark gold images.")
        final = agreement_services.image_decide(
            project=self.project,
            image_id=image_id,
            labels=data.validated_data["labels"],
            decided_by=self.user,
            method=method,
            may_change_gold=self.can_manage,
        )
        return Response(FinalLabelSerializer(final).data, status=status.HTTP_201_CREATED)


class DecisionBatchView(QualityView):
    """A page of decisions at once (the review grid): all are written, or none."""

    @extend_schema(
        request=DecisionBatchSerializer,
        parameters=[IDEMPOTENCY_KEY],
        responses={
            201: DecisionBatchResultSerializer,
            400: OpenApiResponse(
                description="Malformed, an image twice, or decisions refused (unknown image or "
                "labels): `items` lists each refused decision's index, image, status and detail."
            ),
            403: OpenApiResponse(
                description="Gold is for leads and admins; a reviewer may not change a gold "
                "image's label (`items` names the decisions)."
            ),
        },
    )
    @idempotent
    def post(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        """Decide many images' final labels: `{"decisions": [{"image": id, "labels": [...]}]}`.

        Each decision is the one `decisions/` takes, made by the same service; if any is
        refused, none is written and the answer names every refused one.
        """
        self.require_overseer()
        data = DecisionBatchSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        decisions = [
            agreement_services.Decision(
                image_id=row["image"], labels=row["labels"], method=row["method"]
            )
            for row in data.validated_data["decisions"]
        ]
        gold = [i for i, d in enumerate(decisions) if d.method == FinalLabelMethod.GOLD]
        if gold and not self.can_manage:
            # Each refused decision named as the service names its refusals.
            why = "Only the project's leads and admins mark gold images."
            raise PermissionDenied(
                f"{why[:-1]} ({noun(len(gold), 'decision')} {', '.join(map(str, gold))}).",
                items=[
                    {
                        "index": i,
                        "image": decisions[i].image_id,
                        "status": PermissionDenied.status_code,
                        "code": PermissionDenied.code,
                        "detail": why,
                    }
                    for i in gold
                ],
            )
        finals = agreement_services.images_decide(
            project=self.project,
            decisions=decisions,
            decided_by=self.user,
            may_change_gold=self.can_manage,
        )
        body = {"decisions": FinalLabelSerializer(finals, many=True).data}
        return Response(body, status=status.HTTP_201_CREATED)


class DecisionDetailView(QualityView):
    """One image's decision by a person."""

    @extend_schema(responses={204: None, 404: OpenApiResponse(description="No such decision.")})
    def delete(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        """Take the decision back (leads and admins): consensus decides the image again."""
        self.require_manager()
        agreement_services.image_decision_clear(
            project=self.project, image_id=int(self.kwargs["image_id"]), cleared_by=self.user
        )
        return Response(status=status.HTTP_204_NO_CONTENT)
