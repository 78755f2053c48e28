"""How many annotators an image gets: fixed overlap, or adaptive overlap and its bounds."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from labeler.errors import ValidationFailed
from labeler.projects.models import OverlapMode, Project

MAX_OVERLAP = 50
OVERLAP_FIELDS = ("overlap_mode", "overlap_max", "adaptive_confidence")


def overlap_settings_check(changes: Mapping[str, Any], current: Project | None = None) -> None:
    """Refuse overlap settings that are malformed or contradict each other.

    ``changes`` are the fields being set; ``current`` the project as it is (None when it
    is being created, then the model's defaults fill in). Under adaptive overlap the
    maximum may not be below the overlap, which is the minimum.
    """
    mode = changes.get("overlap_mode")
    if mode is not None and mode not in OverlapMode.values:
        known = ", ".join(OverlapMode.values)
        raise ValidationFailed(
            f"Unknown overlap mode {mode!r}; use one of {known}.", field="overlap_mode"
        )
    maximum = changes.get("overlap_max")
    if maximum is not None and (
        isinstance(maximum, bool) or not isinstance(maximum, int) or not 1 <= maximum <= MAX_OVERLAP
    ):
        raise ValidationFailed(
            f"overlap_max must be a whole number from 1 to {MAX_OVERLAP}.", field="overlap_max"
        )
    confidence = changes.get("adaptive_confidence")
    if confidence is not None and (
        isinstance(confidence, bool)
        or not isinstance(confidence, int | float)
        or not 0 <= confidence <= 1
    ):
        raise ValidationFailed(
            "adaptive_confidence must be a number from 0 to 1.", field="adaptive_confidence"
        )
    base = current or Project()
    mode = changes.get("overlap_mode", base.overlap_mode)
    overlap = changes.get("overlap", base.overlap)
    maximum = changes.get("overlap_max", base.overlap_max)
    if mode == OverlapMode.ADAPTIVE and isinstance(overlap, int) and maximum < overlap:
        raise ValidationFailed(
            f"Under adaptive overlap, overlap_max ({maximum}) may not be below the overlap "
            f"({overlap}), the number of annotators every image gets first.",
            field="overlap_max",
        )


def overlap_extra_cap(project: Project) -> int:
    """How many annotators beyond its overlap an image may be asked for (0 when fixed)."""
    if project.overlap_mode != OverlapMode.ADAPTIVE:
        return 0
    return max(project.overlap_max - project.overlap, 0)
