"""Dates and times as every page writes them: "26 Nov 2026, 13:52", the full ISO time in
the element's ``datetime`` and its title (``static/js/lib/format.js`` has the browser's
twin, ``when``). A built-in of the templates (settings.TEMPLATES), so no page loads it;
tests/web/test_template_style.py holds the pages to it.
"""

from __future__ import annotations

import datetime as dt

from django import template
from django.utils import dateformat, timezone
from django.utils.html import format_html
from django.utils.safestring import SafeString

register = template.Library()

DATE_TIME = "j M Y, H:i"  # 26 Nov 2026, 13:52
DATE = "j M Y"  # 26 Nov 2026, for a day without a time


def _local(value: dt.date) -> dt.date:
    if isinstance(value, dt.datetime) and timezone.is_aware(value):
        return timezone.localtime(value)
    return value


@register.filter
def when_text(value: dt.date | None) -> str:
    """The date (and time) as text, for mails, titles and labels ("" for none)."""
    if not isinstance(value, dt.date):
        return ""
    shown = _local(value)
    return dateformat.format(shown, DATE_TIME if isinstance(shown, dt.datetime) else DATE)


@register.filter
def iso(value: dt.date | None) -> str:
    """The machine's form, for data attributes and date inputs ("" for none)."""
    return _local(value).isoformat() if isinstance(value, dt.date) else ""


@register.filter
def when(value: dt.date | None) -> SafeString | str:
    """A ``<time>`` element: the date as people read it, the ISO time as its title."""
    if not isinstance(value, dt.date):
        return ""
    return format_html('<time datetime="{0}" title="{0}">{1}</time>', iso(value), when_text(value))
