"""How the Label Studio exports name people: by e-mail, the one key Label Studio matches.

Label Studio's import credits an annotation to the member of its organisation whose
e-mail is ``completed_by: {"email": ...}`` (exactly as written; a bare string or one of
our user ids is refused, and so is an e-mail it has no account for). So each annotator
and each person who decided a final label is named by their e-mail, in lower case: Label
Studio's sign-up page stores an e-mail so (``Anna@Example.org`` signs up as
``anna@example.org``), and ours keep the case they were typed in. Someone without one
by a placeholder that is stable and never delivers: ``<username>@labeler.invalid``
(the reserved ``.invalid`` domain, RFC 2606), or ``user=<id>@labeler.invalid`` where the
username is not a valid e-mail local part (Label Studio takes ASCII ones only; "=" is
never in a username, so the two kinds cannot meet). The same person has the same
placeholder in every project, so one Label Studio account takes their work from all.
"""

from __future__ import annotations

import re

from django.contrib.auth import get_user_model
from django.db.models import Q

from labeler.annotations.models import Annotation, FinalLabel
from labeler.projects.models import Project

PLACEHOLDER_DOMAIN = "labeler.invalid"
# An e-mail address's local part as Django's (and so Label Studio's) validator takes it,
# within its 64 characters.
_LOCAL_PART = re.compile(r"[-!#$%&'*+/=?^_`{}|~0-9A-Za-z]+(\.[-!#$%&'*+/=?^_`{}|~0-9A-Za-z]+)*\Z")


def person_email(*, user_id: int, username: str, email: str) -> str:
    """The e-mail a Label Studio file names this user by: theirs, else a placeholder."""
    if email.strip():
        return email.strip().lower()
    local = username if _LOCAL_PART.match(username) and len(username) <= 64 else None
    return f"{local or f'user={user_id}'}@{PLACEHOLDER_DOMAIN}"


def export_emails(project: Project) -> dict[int, str]:
    """``{user id: e-mail}`` for everyone who annotated an image of the project or decided
    one of its final labels, read in one query."""
    annotators = Annotation.objects.filter(project=project).values("annotator_id")
    deciders = FinalLabel.objects.filter(image__project=project, decided_by__isnull=False).values(
        "decided_by_id"
    )
    users = get_user_model().objects.filter(Q(pk__in=annotators) | Q(pk__in=deciders))
    return {
        pk: person_email(user_id=pk, username=username, email=email)
        for pk, username, email in users.values_list("pk", "username", "email")
    }
