"""A project's webhooks, for its leads and admins: registered, listed, changed, removed,
pinged; their deliveries listed and sent again.

The rules are the webhooks layer's (``labeler.webhooks.services``): an address webhooks
may not reach, an unknown event or a bad URL is a 400 saying which.
"""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from drf_spectacular.utils import extend_schema
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from api.image_metadata import body_read
from api.inputs import StrictInput
from api.pagination import NewestFirst
from api.permissions import ProjectScopedView
from labeler.webhooks import selectors, services
from labeler.webhooks.events import EVENT_NAMES, EVENTS
from labeler.webhooks.models import Webhook, WebhookDelivery

_URL = "Where deliveries are POSTed: http or https, a public address (unless an admin allows it)."
_EVENTS = f"The events it hears, some of: {', '.join(EVENT_NAMES)}."


class WebhookSerializer(serializers.ModelSerializer):
    class Meta:
        model = Webhook
        fields = [
            "id", "url", "events", "description", "active", "secret", "created_at", "updated_at",
        ]  # fmt: skip
        read_only_fields = fields
        extra_kwargs = {
            "url": {"help_text": _URL},
            "events": {"help_text": _EVENTS},
            "secret": {"help_text": "Signs every delivery (X-Labeler-Signature)."},
        }


class WebhookCreateSerializer(StrictInput, serializers.Serializer):
    url = serializers.CharField(max_length=2000, help_text=_URL)
    events = serializers.ListField(child=serializers.CharField(max_length=64), help_text=_EVENTS)
    description = serializers.CharField(max_length=200, required=False, allow_blank=True)
    active = serializers.BooleanField(required=False, default=True)


class WebhookUpdateSerializer(StrictInput, serializers.Serializer):
    url = serializers.CharField(max_length=2000, required=False, help_text=_URL)
    events = serializers.ListField(
        child=serializers.CharField(max_length=64), required=False, help_text=_EVENTS
    )
    description = serializers.CharField(max_length=200, required=False, allow_blank=True)
    active = serializers.BooleanField(required=False)
    rotate_secret = serializers.BooleanField(
        required=False, help_text="true: a new secret; the old one signs nothing from now on."
    )


class DeliverySerializer(serializers.ModelSerializer):
    delivery_id = serializers.UUIDField(source="uuid", read_only=True)

    class Meta:
        model = WebhookDelivery
        fields = [
            "id", "delivery_id", "event", "status", "attempts", "http_status",
            "response_excerpt", "error", "attempt_log", "payload", "redelivery_of",
            "created_at", "last_attempt_at", "next_attempt_at", "finished_at",
        ]  # fmt: skip
        read_only_fields = fields


class EventSerializer(serializers.Serializer):
    name = serializers.CharField()
    cause = serializers.CharField()
    keys = serializers.DictField(
        child=serializers.CharField(), help_text="What its body's data holds: each key, in words."
    )


class WebhookViewSet(
    ProjectScopedView,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    viewsets.GenericViewSet,
):
    """GET lists the webhooks; POST {url, events, description, active} registers one;
    PATCH changes it (``rotate_secret``: a new secret); DELETE removes it. Leads and
    admins only."""

    serializer_class = WebhookSerializer
    lookup_value_regex = r"\d+"
    pagination_class = None  # WEBHOOKS_PER_PROJECT at most: one list

    def get_queryset(self) -> QuerySet[Webhook]:
        if getattr(self, "swagger_fake_view", False):  # schema generation
            return Webhook.objects.none()
        self.require_manager()
        return selectors.project_webhooks(self.project)

    def get_object(self) -> Webhook:
        self.require_manager()
        return selectors.webhook_get(self.project, int(self.kwargs["pk"]))

    @extend_schema(request=WebhookCreateSerializer, responses={201: WebhookSerializer})
    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        self.require_manager()
        data = body_read(WebhookCreateSerializer, request.data)
        hook = services.webhook_create(
            project=self.project,
            url=data["url"],
            events=data["events"],
            description=data.get("description", ""),
            active=data.get("active", True),
            created_by=self.user,
        )
        return Response(self.get_serializer(hook).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=WebhookUpdateSerializer, responses={200: WebhookSerializer})
    def partial_update(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        hook = self.get_object()
        data = body_read(WebhookUpdateSerializer, request.data)
        rotate = bool(data.pop("rotate_secret", False))
        hook = services.webhook_update(webhook=hook, changes=data, rotate_secret=rotate)
        return Response(self.get_serializer(hook).data)

    def destroy(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        services.webhook_delete(webhook=self.get_object())
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(responses={200: DeliverySerializer(many=True)})
    @action(detail=True, methods=["get"], serializer_class=DeliverySerializer)
    def deliveries(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        """The webhook's deliveries, newest first, each with its attempts and last answer."""
        hook = self.get_object()
        paginator = NewestFirst()
        page = paginator.paginate_queryset(selectors.webhook_deliveries(hook), request, self)
        return paginator.get_paginated_response(DeliverySerializer(page, many=True).data)

    @extend_schema(request=None, responses={202: DeliverySerializer})
    @action(detail=True, methods=["post"], serializer_class=DeliverySerializer)
    def ping(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        """Send the webhook a ``ping`` event now; its delivery is answered (202)."""
        delivery = services.webhook_ping(webhook=self.get_object())
        return self._delivery_answer(delivery)

    @extend_schema(request=None, responses={202: DeliverySerializer})
    @action(
        detail=True,
        methods=["post"],
        url_path=r"deliveries/(?P<delivery_pk>\d+)/redeliver",
        serializer_class=DeliverySerializer,
    )
    def redeliver(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        """Send a delivery's body again, as a new delivery (202)."""
        hook = self.get_object()
        former = selectors.delivery_get(hook, int(self.kwargs["delivery_pk"]))
        return self._delivery_answer(services.webhook_redeliver(delivery=former))

    @extend_schema(responses={200: EventSerializer(many=True)})
    @action(detail=False, methods=["get"])
    def events(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        """Every event a webhook may hear: its name, its cause and its data's keys (``keys``)."""
        self.require_manager()
        return Response([{"name": e.name, "cause": e.cause, "keys": e.data} for e in EVENTS])

    def _delivery_answer(self, delivery: WebhookDelivery) -> Response:
        delivery.refresh_from_db()  # sent already where tasks run in-process
        return Response(DeliverySerializer(delivery).data, status=status.HTTP_202_ACCEPTED)
