"""Mail to people: a message rendered from its templates and sent through the configured
e-mail backend, and what the sender is told."""

from __future__ import annotations

import smtplib
from dataclasses import dataclass
from typing import Any

from django.core.mail import send_mail
from django.template.loader import render_to_string

from labeler.errors import DomainError


class MailFailed(DomainError):
    """The mail server refused the message or could not be reached."""

    status_code = 503
    code = "mail_failed"


@dataclass(frozen=True)
class LinkSent:
    """An e-mailed link: to whom, and the link itself (shown to the admin too)."""

    email: str
    link: str


def mail_send(*, to: str, templates: str, context: dict[str, Any]) -> None:
    """Send ``{templates}_subject.txt`` and ``{templates}_body.txt`` to ``to``.

    Raises MailFailed when the mail server refuses or cannot be reached.
    """
    # A header is one line: a name with a line break must not break the mail.
    subject = " ".join(render_to_string(f"{templates}_subject.txt", context).split())
    body = render_to_string(f"{templates}_body.txt", context)
    try:
        send_mail(subject, body, None, [to])
    except (OSError, smtplib.SMTPException) as exc:
        raise MailFailed(f"The e-mail to {to} could not be sent ({exc}).") from exc
