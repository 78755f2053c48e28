"""Bulk actions on a selection of a project's images: one service call each, atomic, audited."""
