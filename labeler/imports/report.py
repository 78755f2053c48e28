"""The import report as text: the counts in and out and a line for every record not
applied, the same on every command line (``manage.py import_images`` and ``labeler
upload``). Plain Python, no Django: the client prints it from the API's answers.

The counts are those of ``ImportSummary.counts()`` (the API's ``counts``)::

    In:  120 files; labels: 100 records, 180 annotations, 3 decisions, 190 labels
    Out: 118 images (117 new), 176 annotations (176 written), 3 decisions (3 written), 186 labels
    Not applied: 4
      Task 7: annotation 1: cancelled in Label Studio (skipped by the annotator)
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

from labeler.words import counted

IN_KEYS = ("files", "records", "annotations", "decisions", "labels")
OUT_KEYS = (
    "images",
    "images_created",
    "annotations",
    "annotations_written",
    "decisions",
    "decisions_written",
    "labels",
    "not_applied",
)


def counts_add(total: dict[str, int], more: Mapping[str, object]) -> None:
    """Add one answer's counts (``in`` or ``out``) to a running total, key by key."""
    for key, value in more.items():
        if isinstance(value, int) and not isinstance(value, bool):
            total[key] = total.get(key, 0) + value


def counts_lines(counts_in: Mapping[str, int], counts_out: Mapping[str, int] | None) -> list[str]:
    """The counts block: what came in, and what went out (None: nothing was written)."""
    got = {key: counts_in.get(key, 0) for key in IN_KEYS}
    labels = (
        f"labels: {_n(got['records'], 'record')}, {_n(got['annotations'], 'annotation')}, "
        f"{_n(got['decisions'], 'decision')}, {_n(got['labels'], 'label')}"
        if got["records"] or got["labels"]
        else "no labels"
    )
    lines = [f"In:  {_n(got['files'], 'file')}; {labels}"]
    if counts_out is not None:
        out = {key: counts_out.get(key, 0) for key in OUT_KEYS}
        metadata = counts_out.get("metadata", 0)  # images the labels file described
        lines.append(
            f"Out: {_n(out['images'], 'image')} ({out['images_created']} new), "
            f"{_n(out['annotations'], 'annotation')} ({out['annotations_written']} written), "
            f"{_n(out['decisions'], 'decision')} ({out['decisions_written']} written), "
            f"{_n(out['labels'], 'label')}"
            + (f", metadata on {_n(metadata, 'image')}" if metadata else "")
        )
    return lines


def not_applied_lines(lines: Sequence[tuple[str, str]]) -> list[str]:
    """``Not applied: N`` and a line for each record (``record: reason``)."""
    return [f"Not applied: {len(lines)}", *(f"  {record}: {reason}" for record, reason in lines)]


def people_lines(people: Iterable[Mapping[str, str]]) -> list[str]:
    """A line for each person of the labels file: whose account takes their labels, how."""
    rows = [
        f"  {person['shown']} -> {person['account']} ({HOW_SAID.get(person['how'], person['how'])})"
        for person in people
    ]
    return [f"People: {len(rows)}", *rows] if rows else []


def contradiction_lines(contradictions: Iterable[Mapping[str, object]]) -> list[str]:
    """A line for each person whose account contradicts what the labels file says of them,
    and whether the lead confirmed it (an import needs every one confirmed)."""
    rows = [
        f"  {c['shown']} -> {c['account']}: {c['says']}"
        f"{' (confirmed)' if c['confirmed'] else ' (confirm with --people-confirmed)'}"
        for c in contradictions
    ]
    return [f"To confirm: {len(rows)}", *rows] if rows else []


# How a person's account was found, in words (``labeler.imports.planning.people``).
HOW_SAID = {
    "email": "a member, by e-mail",
    "username": "a member, by username",
    "chosen": "chosen",
    "imported": "the account an earlier import made",
    "new": "a new inactive account",
}


def _n(count: int, noun: str) -> str:
    return counted(count, noun)
