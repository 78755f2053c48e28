"""Slices of a project: its data cut by a metadata field, a tag, an annotator or a source, and
where the labels or the model are worse than in the rest (``statistics`` is pure)."""
