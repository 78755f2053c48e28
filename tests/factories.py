"""Factories and generated image bytes for the tests."""

from __future__ import annotations

import io
import itertools
from datetime import timedelta
from typing import Any

import factory
from django.contrib.auth import get_user_model
from django.db import transaction
from django.utils import timezone
from PIL import Image as PILImage

from labeler.annotations import services, submit
from labeler.annotations.models import Assignment
from labeler.annotations.queue import queue_hold
from labeler.images.models import Image
from labeler.predictions.models import ModelVersion, Prediction
from labeler.projects import addresses
from labeler.projects.models import AddressConfirmed, Label, Membership, Project, Role
from labeler.webhooks.models import DeliveryStatus, Webhook, WebhookDelivery

_colour = itertools.count(10_000)


def image_bytes(
    fmt: str = "PNG", size: tuple[int, int] = (32, 24), seed: int | None = None
) -> bytes:
    """A small real image whose content differs on every call unless seed is given."""
    n = next(_colour) if seed is None else seed
    image = PILImage.new("RGB", size, ((n * 37) % 256, (n * 91) % 256, (n // 256 * 53) % 256))
    image.putpixel((0, 0), (n % 251, n % 241, n % 239))
    image.putpixel((1, 0), (n // 251 % 256, n // 241 % 256, n // 65536 % 256))
    buffer = io.BytesIO()
    image.save(buffer, format=fmt)
    return buffer.getvalue()


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = get_user_model()
        django_get_or_create = ("username",)
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")
    password = factory.django.Password("correct-horse-battery")

    @factory.post_generation
    def email_verified(self, create: bool, extracted: bool | None, **kwargs: object) -> None:
        """``email_verified=True``: the account's address is confirmed (by an admin)."""
        if create and extracted:
            addresses.email_mark_verified(user=self, how=AddressConfirmed.ADMIN)


class ProjectFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Project
        skip_postgeneration_save = True

    name = factory.Sequence(lambda n: f"Project {n}")
    overlap = 1
    multi_label = False
    # Every suggestion shown, unless a test holds some back: which are is drawn by a hash.
    suggestion_holdback = 0.0

    @factory.post_generation
    def labels(self, create: bool, extracted: list[str] | None, **kwargs: object) -> None:
        names = extracted if extracted is not None else ["cat", "dog", "bird"]
        for position, name in enumerate(names):
            Label.objects.create(
                project=self,
                name=name,
                color="#123456",
                hotkey=str(position + 1),
                position=position,
            )


def add_member(project: Project, user: object, role: str = Role.ANNOTATOR) -> Membership:
    return Membership.objects.create(project=project, user=user, role=role)


class ModelVersionFactory(factory.django.DjangoModelFactory):
    """A trained model of a project, pre-labelling (current) unless told otherwise."""

    class Meta:
        model = ModelVersion

    project = factory.SubFactory(ProjectFactory)
    version = factory.Sequence(lambda n: n + 1)
    is_current = True


def predict(model_version: ModelVersion, image: object, probabilities: dict[str, float]) -> None:
    """Store the model's probabilities ({str(label id): p}) for the image."""
    Prediction.objects.create(model_version=model_version, image=image, probabilities=probabilities)


def hold(project: Project, annotator: object, image_id: object) -> None:
    """Lease the image to the annotator as the queue does when it hands it out (or gives it
    back after an undo), so that a test may label the images it picks; a lease they hold
    already (with the suggestion it handed out) is left as it is."""
    if isinstance(image_id, bool) or not isinstance(image_id, int) or not 0 < image_id < 2**63:
        return
    with transaction.atomic():
        image = Image.objects.select_for_update().filter(pk=image_id, project=project).first()
        if image is not None and not image.assignments.filter(annotator=annotator).exists():
            queue_hold(project=project, image=image, annotator=annotator)


def annotation_submit(*, project: Project, annotator: object, image_id: object, **kwargs: Any):
    """Label an image the way the labelling page does: handed out first, then submitted."""
    hold(project, annotator, image_id)
    written = submit.annotation_submit(
        project=project, annotator=annotator, image_id=image_id, **kwargs
    )
    return written.annotation, written.created


def skip_create(*, project: Project, annotator: object, image_id: object, **kwargs: Any):
    """Skip an image the way the labelling page does: handed out first, then skipped.

    An image the queue would not hand out now (full, complete) is taken to have been
    handed out earlier, its lease since run out, as when others labelled it meanwhile.
    """
    hold(project, annotator, image_id)
    image = (
        Image.objects.filter(pk=image_id, project=project).first()
        if isinstance(image_id, int)
        else None
    )
    if image is not None and not image.assignments.filter(annotator=annotator).exists():
        ran_out = timezone.now() - timedelta(minutes=1)
        Assignment.objects.create(
            project=project, image=image, annotator=annotator, expires_at=ran_out
        )
    return services.skip_create(project=project, annotator=annotator, image_id=image_id, **kwargs)


def webhook_of(project, by) -> tuple[Webhook, WebhookDelivery]:
    """A webhook and one finished delivery, made directly: registering one through the
    service resolves its address, and the tests reach no network."""
    webhook = Webhook.objects.create(
        project=project, url="https://hooks.example.com/labeler", events=["export.ready"],
        secret="not-a-secret", created_by=by,
    )  # fmt: skip
    delivery = WebhookDelivery.objects.create(
        webhook=webhook, event="ping", payload={}, status=DeliveryStatus.DELIVERED
    )
    return webhook, delivery
