"""The project settings the agreement layer reads: how a final label is decided and when
it goes to review."""

from __future__ import annotations

from labeler.projects.models import ConsensusMethod
from labeler.projects.settings_registry import FormInput, ProjectSetting

SETTINGS = (
    ProjectSetting(
        name="consensus_method",
        section="review",
        owner="agreement",
        kind="choice",
        choices=ConsensusMethod,
        default=ConsensusMethod.MAJORITY.value,
        label="consensus method",
        help="How an image's final label is decided from its annotations.",
        form=FormInput(
            message="Choose majority vote or Dawid-Skene.",
            label="Final label from",
            help=(
                "Majority vote, or Dawid-Skene, which weighs each annotator by their "
                "estimated reliability."
            ),
            anchor="consensus",
        ),
    ),
    ProjectSetting(
        name="review_threshold",
        section="review",
        owner="agreement",
        kind="float",
        default=0.7,
        minimum=0.0,
        maximum=1.0,
        help="Consensus below this confidence goes to the review queue.",
        form=FormInput(
            message="The review threshold is a confidence from 0 to 1.",
            label="Review below confidence",
            help=(
                "A consensus less sure than this (0 to 1) gets no final label until a "
                "reviewer decides."
            ),
            anchor="threshold",
            step=0.01,
            fill_in=True,
        ),
    ),
)
