"""How many annotators an image gets: fixed overlap, or adaptive overlap up to its maximum."""

from __future__ import annotations

from labeler.projects.models import OverlapMode, Project


def overlap_extra_cap(project: Project) -> int:
    """How many annotators beyond its overlap an image may be asked for (0 when fixed)."""
    if project.overlap_mode != OverlapMode.ADAPTIVE:
        return 0
    return max(project.overlap_max - project.overlap, 0)
