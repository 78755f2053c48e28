"""What an image filter is: its query parameter, what it takes, and how it narrows images.

Each filter module (``core_filters``, ``duplicate_filters``...) lists its own in
``IMAGE_FILTERS``; ``labeler.browse.filters`` names those modules and fills its registry.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from django.db.models import QuerySet

from labeler.images.models import Image
from labeler.projects.models import Project

Apply = Callable[[QuerySet[Image], list[str], Project], QuerySet[Image]]
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
