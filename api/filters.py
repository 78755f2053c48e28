"""Query filters: a value a filter cannot read is a 400 naming it, never a silent no-op."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import django_filters
from django import forms
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django_filters.fields import IsoDateTimeField
from django_filters.rest_framework import DjangoFilterBackend
from django_filters.widgets import BooleanWidget
from drf_spectacular.utils import extend_schema_field

from labeler.dates_in import moment_read
from labeler.errors import ValidationFailed


class StrictBooleanField(forms.NullBooleanField):
    """true or false (as the schema says); absent is no filter, anything else an error."""

    def to_python(self, value: Any) -> Any:
        if value is None or isinstance(value, bool):
            return value
        # The value goes in params: django-filter formats the message with them, so a
        # value of its own holding "%" must not be part of the message itself.
        raise ValidationError(
            "%(value)r is neither true nor false.", code="invalid", params={"value": value}
        )


class StrictBooleanWidget(BooleanWidget):
    """Reads true/false (and 1/0) as the stock widget does, but passes other text on."""

    def value_from_datadict(self, data: Any, files: Any, name: str) -> Any:
        value = super().value_from_datadict(data, files, name)
        return data.get(name) if value is None else value


class StrictBooleanFilter(django_filters.rest_framework.BooleanFilter):
    field_class = StrictBooleanField

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("widget", StrictBooleanWidget)
        super().__init__(*args, **kwargs)


class UtcIsoDateTimeField(IsoDateTimeField):
    """An ISO 8601 date and time, handed on in UTC, read by ``labeler.dates_in`` (one
    outside the accepted years is refused naming them).

    PostgreSQL takes offsets up to 15:59 only (Python up to 23:59), and a time near the
    first or the last year has no UTC equivalent at all (an OverflowError on SQLite).
    """

    def to_python(self, value: Any) -> Any:
        if value in self.empty_values:
            return None
        if not isinstance(value, str):
            return super().to_python(value)
        try:
            return moment_read(value, field="", zone=timezone.get_current_timezone())
        except ValidationFailed as refused:
            # The value goes in params: django-filter formats the message with them.
            why = {"why": refused.message}
            raise ValidationError("%(why)s", code="invalid", params=why) from None


class StrictIsoDateTimeFilter(django_filters.rest_framework.IsoDateTimeFilter):
    field_class = UtcIsoDateTimeField


class FilterSet(django_filters.rest_framework.FilterSet):
    FILTER_DEFAULTS = {
        **django_filters.rest_framework.FilterSet.FILTER_DEFAULTS,
        models.BooleanField: {"filter_class": StrictBooleanFilter},
        models.DateTimeField: {"filter_class": StrictIsoDateTimeFilter},
    }


class FilterBackend(DjangoFilterBackend):
    """The project's filter sets, strict; a filter given with no value is a 400 too."""

    filterset_base = FilterSet

    def get_filterset(self, request: Any, queryset: Any, view: Any) -> Any:
        filterset = super().get_filterset(request, queryset, view)
        if filterset is not None:
            for name in filterset.filters:
                if name in request.query_params and request.query_params[name] == "":
                    raise ValidationFailed(
                        f"{name} is empty: give a value or leave it out.", field=name
                    )
        return filterset


class RepeatedTextField(forms.Field):
    """Every value of a query parameter given once or more (``?tag=a&tag=b``), in order.

    ``item`` checks and tidies each value (raising ValidationError); at most ``max_values``.
    """

    widget = forms.MultipleHiddenInput

    def __init__(
        self,
        *args: Any,
        item: Callable[[str], str] = str.strip,
        max_values: int = 20,
        **kwargs: Any,
    ) -> None:
        self.item = item
        self.max_values = max_values
        super().__init__(*args, **kwargs)

    def to_python(self, value: Any) -> list[str]:
        if value in self.empty_values:
            return []
        values = list(value) if isinstance(value, list | tuple) else [value]
        if len(values) > self.max_values:
            raise ValidationError(
                "At most %(most)s values, not %(count)s.",
                code="invalid",
                params={"most": self.max_values, "count": len(values)},
            )
        return [self.item(value) for value in values]


@extend_schema_field({"type": "array", "items": {"type": "string"}})
class AllOfFilter(django_filters.Filter):
    """A parameter given once or more: the rows that match every value (``match(value)``)."""

    field_class = RepeatedTextField

    def __init__(self, *args: Any, match: Callable[[str], Q], **kwargs: Any) -> None:
        self.match = match
        super().__init__(*args, **kwargs)

    def filter(self, qs: Any, value: Any) -> Any:
        for item in value or []:
            qs = qs.filter(self.match(item))
        return qs
