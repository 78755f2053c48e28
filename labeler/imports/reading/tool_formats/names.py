"""Label names as the tools give them: each added once, stripped."""

from __future__ import annotations


def name_add(names: list[str], label: str) -> None:
    """Add a label name once, stripped; an empty one is none."""
    label = label.strip()
    if label and label not in names:
        names.append(label)
