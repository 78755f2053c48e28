"""An image's place in the annotation queue, as a person types it or a client sends it.

Every route that sets a priority reads it here: the bulk action the Images page and the
API share, and the admin's image form. An empty field, text that is not a number, or a
number too large to keep is refused saying so; nothing reads it as 0.
"""

from __future__ import annotations

import math
import re

from labeler.errors import ValidationFailed

# A decimal number as people write one: "5", "-2", "0.75", "1e3". Not "inf", "nan",
# "0x10" or "1_000", which Python's float() would take.
_DECIMAL = re.compile(r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?")
_SHOWN = 40  # characters of a refused text quoted back


def priority_parse(value: object, *, field: str = "priority") -> float:
    """The priority ``value`` says: a JSON number, or text holding a decimal number."""
    if value is None:
        raise ValidationFailed(
            f"'{field}' is required: a number, higher comes first in the queue.", field=field
        )
    if isinstance(value, str):
        text = value.strip()
        if not text:
            raise ValidationFailed(
                f"'{field}' is empty: give a number (higher comes first in the queue).",
                field=field,
            )
        if not _DECIMAL.fullmatch(text):
            raise ValidationFailed(
                f"'{field}' must be a number such as 5 or -0.5, not {text[:_SHOWN]!r}.",
                field=field,
            )
        return _finite(float(text), field)
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValidationFailed(
            f"'{field}' is a number: higher comes first in the queue.", field=field
        )
    try:
        return _finite(float(value), field)
    except OverflowError:  # an integer past a float's range
        return _finite(math.inf, field)


def _finite(number: float, field: str) -> float:
    if not math.isfinite(number):
        raise ValidationFailed(
            f"'{field}' is too large to keep: give a number such as 5 or -0.5.", field=field
        )
    return number
