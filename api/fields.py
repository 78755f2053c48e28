"""Serializer fields shared by the API's inputs."""

from __future__ import annotations

from typing import Any

from rest_framework import serializers
from rest_framework.fields import empty
from rest_framework.utils import html

from labeler.projects.selectors import MAX_ID

# What a JSON value that is not text is, for the message refusing it.
_JSON_KINDS = {bool: "true or false", int: "a number", float: "a number", list: "a list"}


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


class TextField(serializers.CharField):
    """Text, and only text, at most max_length long as sent: DRF's CharField would take the
    number 1 for "1", and measure the text after trimming the whitespace around it."""

    default_error_messages = {"not_text": "Must be text (a JSON string), not {kind}."}

    def to_internal_value(self, data: Any) -> str:
        if not isinstance(data, str):
            self.fail("not_text", kind=_JSON_KINDS.get(type(data), "an object"))
        if self.max_length is not None and len(data) > self.max_length:
            self.fail("max_length", max_length=self.max_length)
        return super().to_internal_value(data)


class FormBlankRefused(serializers.Field):
    """In a form body, a field sent empty is refused unless it allows blank: DRF reads it
    as left out, so an optional field would quietly take its default."""

    def get_value(self, dictionary: Any) -> Any:
        if html.is_html_input(dictionary) and dictionary.get(self.field_name, empty) == "":
            return ""
        return super().get_value(dictionary)


class ChoiceField(FormBlankRefused, serializers.ChoiceField):
    """One of the choices; a refusal names them."""

    default_error_messages = {"invalid_choice": "{input!r} is not one of: {choices}."}

    def fail(self, key: str, **kwargs: Any) -> Any:
        kwargs.setdefault("choices", ", ".join(str(choice) for choice in self.choices))
        return super().fail(key, **kwargs)


class BooleanField(FormBlankRefused, serializers.BooleanField):
    """true or false, in JSON or in a form (where empty is neither)."""
