"""What every format writer reads from: the project, the options and a progress hook."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

from labeler.exports.options import ExportOptions
from labeler.exports.selectors import ImageRow, export_rows
from labeler.projects.models import Project


@dataclass(frozen=True)
class ExportSource:
    """One export's input; ``on_batch`` hears how many images each finished batch held.

    ``base_url`` is this site's address as the request that asked for the export reached
    it, and ``user_id`` the lead who asked: the signed image links of the label-studio
    format are made absolute with the one and work while the other still leads.
    """

    project: Project
    options: ExportOptions
    on_batch: Callable[[int], None] | None = None
    base_url: str = ""
    user_id: int | None = None

    # Images by the split they were written to, from the counted pass: what the split made.
    split_made: Counter[str] = field(default_factory=Counter)

    def rows(self, *, counted: bool = True) -> Iterator[ImageRow]:
        """The selected rows; a format reading them twice counts one pass only."""
        rows = export_rows(self.project, self.options, on_batch=self.on_batch if counted else None)
        if not counted:
            return rows
        return self._counted(rows)

    def _counted(self, rows: Iterator[ImageRow]) -> Iterator[ImageRow]:
        for row in rows:
            if row.split:
                self.split_made[row.split] += 1
            yield row

    def label_names(self) -> list[str]:
        """The project's label names in their order."""
        return list(self.project.labels.order_by("position").values_list("name", flat=True))
