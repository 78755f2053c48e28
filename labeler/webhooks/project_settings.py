"""The project settings the webhooks layer reads."""

from __future__ import annotations

from labeler.projects.settings_registry import FormInput, ProjectSetting

SETTINGS = (
    ProjectSetting(
        name="review_queue_alert_size",
        section="webhooks",
        owner="webhooks",
        kind="int",
        default=0,
        minimum=0,
        maximum=1_000_000,
        words="a whole number from 0 to 1000000 (0: never)",
        help=(
            "Webhooks subscribed to review_queue.above hear when the review queue grows "
            "past this many images: once as it crosses upward, again only after it fell "
            "back to this size or below. 0 announces nothing."
        ),
        form=FormInput(
            message="The review queue's alert size is a whole number, 0 or more.",
            label="Announce a review queue longer than",
            help=(
                "Webhooks subscribed to `review_queue.above` hear once when the review queue "
                "grows past this many images, and again only after it fell back. 0 announces "
                "nothing."
            ),
            anchor="alert-size",
        ),
    ),
)
