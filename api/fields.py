"""Serializer fields shared by the API's inputs."""

from __future__ import annotations

from typing import Any

from rest_framework import serializers

from labeler.projects.selectors import MAX_ID


class IdField(serializers.IntegerField):
    """The id of a row: 1 up to the largest id a row can have (larger ones are a 400)."""

    default_error_messages = {
        "min_value": "Ids start at {min_value}.",
        "max_value": "No row has an id above {max_value}.",
    }

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("min_value", 1)
        kwargs.setdefault("max_value", MAX_ID)
        super().__init__(**kwargs)
