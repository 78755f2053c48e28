"""The dashboard's "who may label" section: annotators' qualification and pauses, a lead's
actions on them, and the suggestions' sway on their labels."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.contrib.auth.models import User
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.views.decorators.http import require_POST

from labeler.annotations import qualification
from labeler.errors import DomainError
from labeler.predictions.selectors import current_model
from labeler.predictions.sway import suggestion_sway
from labeler.projects import selectors
from labeler.projects.models import Project
from labeler.web.pages import page_project, page_user


def annotator_gate_context(project: Project, user: User) -> dict[str, Any]:
    """What the dashboard's include shows: each annotator's standing and the sway table."""
    standings = qualification.project_standings(project)
    role = selectors.project_role(user=user, project=project)
    return {
        "gate_can_manage": selectors.can_manage(user=user, project=project, role=role),
        "standings": standings,
        "standings_waiting": [row for row in standings if row.needs_lead],
        "sway": suggestion_sway(project),
        "sway_has_model": current_model(project) is not None,
    }


@login_required
@require_POST
def standing_action(request: HttpRequest, project_id: int, user_id: int) -> HttpResponse:
    """A lead lets a failed or paused annotator go on, or sends them back to the test."""
    project = page_project(request, project_id, manage=True)
    action = request.POST.get("action", "")
    try:
        standing = qualification.standing_act(
            project=project, annotator_id=user_id, action=action, by=page_user(request)
        )
    except DomainError as exc:
        messages.error(request, exc.message)
    else:
        name = standing.annotator.get_username()
        done = (
            "may label again"
            if action == qualification.RESUME
            else "takes the qualification test again"
        )
        messages.success(request, f"{name} {done}.")
    return redirect("agreement-dashboard", project.pk)
