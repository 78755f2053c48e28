"""Request bodies read as the schema documents them, where DRF's serializers are lenient."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from rest_framework import serializers
from rest_framework.utils import html

from labeler.dates_in import day_read
from labeler.errors import ValidationFailed

# What a JSON value that is not text is, for the message refusing it.
_JSON_KINDS = {bool: "true or false", int: "a number", float: "a number", list: "a list"}


class StrictInput(serializers.Serializer):
    """Mixed into the serializers that read a request body (before DRF's own classes).

    - A text field takes text only, at most max_length long as sent: DRF's CharField
      takes the number 1 for "1", and measures the text after trimming the whitespace
      around it.
    - In a form body, a field sent empty is refused unless it may be blank or null: DRF
      takes it as left out, so an optional field quietly took its default.
    """

    def to_internal_value(self, data: Any) -> Any:
        if isinstance(data, Mapping):
            form = html.is_html_input(data)
            errors = {
                name: [problem]
                for name, field in self.fields.items()
                if not field.read_only and name in data
                for problem in [input_problem(field, data[name], form=form)]
                if problem
            }
            if errors:
                raise serializers.ValidationError(errors)
        return super().to_internal_value(data)


class DayField(serializers.DateField):
    """A date from outside (``2024-05-01``), read by ``labeler.dates_in``: a day outside
    the accepted years is refused with a message that names them."""

    def to_internal_value(self, value: Any) -> Any:
        if not isinstance(value, str):
            return super().to_internal_value(value)
        try:
            return day_read(value, field=self.field_name or "")
        except ValidationFailed as refused:
            raise serializers.ValidationError(refused.message) from None


class KnownKeys(serializers.Serializer):
    """Mixed into a serializer of a JSON object whose keys are its fields only: any other
    key is a 400 naming it (DRF drops it silently, so a misspelt ``method`` quietly took
    its default)."""

    def to_internal_value(self, data: Any) -> Any:
        if isinstance(data, Mapping):
            names = [name for name, field in self.fields.items() if not field.read_only]
            unknown = sorted(str(key) for key in data if key not in names)
            if unknown:
                raise serializers.ValidationError(
                    {unknown[0]: [f"Unknown key {unknown[0]!r}; send {', '.join(names)}."]}
                )
        return super().to_internal_value(data)


def input_problem(field: serializers.Field, value: Any, *, form: bool) -> str | None:
    """What is wrong with a field's value as sent, where DRF would let it pass."""
    if form and value == "":
        if getattr(field, "allow_blank", False) or field.allow_null:
            return None
        if isinstance(field, serializers.ChoiceField):
            choices = ", ".join(str(choice) for choice in field.choices)
            return f"Empty: choose one of {choices}, or leave the field out."
        return "Empty: give a value, or leave the field out."
    if not isinstance(field, serializers.CharField) or value is None:
        return None  # null: DRF's own check says whether the field takes it
    if not isinstance(value, str):
        return f"Must be text (a JSON string), not {_JSON_KINDS.get(type(value), 'an object')}."
    if field.max_length is not None and len(value) > field.max_length:
        return f"At most {field.max_length} characters, not {len(value)}."
    return None
