"""The landing page, the login page and the health check."""

from __future__ import annotations

from typing import Any

import numpy as np
from django.conf import settings
from django.contrib.auth import views as auth_views
from django.contrib.auth.models import User
from django.db import DatabaseError, connection
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from labeler.agreement.review import decided_image_ids, review_candidates
from labeler.agreement.selectors import agreement_report
from labeler.annotations.selectors import annotator_progress, project_progress
from labeler.http.login_throttle import client_address, lockout_message, login_wait_seconds
from labeler.predictions.waiting import ModelWaits, model_waits
from labeler.projects import selectors
from labeler.projects.models import Project
from labeler.sso.provider import sso_enabled


@require_GET
def home(request: HttpRequest) -> HttpResponse:
    """The landing page: the caller's projects, their progress and what is left."""
    user = request.user
    if not isinstance(user, User):
        return render(request, "home.html", {"cards": []})
    cards: list[dict[str, Any]] = []
    projects = list(selectors.projects_visible_to(user).order_by("name"))
    for project in projects:
        role = selectors.project_role(user=user, project=project)
        mine = annotator_progress(project=project, annotator=user)
        done = mine.labelled + mine.skipped
        cards.append(
            {
                "project": project,
                "role": role or "admin",
                "can_manage": selectors.can_manage(user=user, project=project, role=role),
                "mine": mine,
                "mine_percent": round(100 * done / (done + mine.remaining)) if done else 0,
                "progress": project_progress(project),
            }
        )
    models = model_waits(card["project"].pk for card in cards if card["can_manage"])
    for card, project in zip(cards, projects, strict=True):
        if card["can_manage"]:
            card["waits"] = lead_waits(project, models.get(project.pk))
    return render(
        request,
        "home.html",
        {
            "cards": cards,
            "can_create": selectors.can_create_projects(user),
        },
    )


def lead_waits(project: Project, models: ModelWaits | None) -> dict[str, Any]:
    """What waits on the project's leads: images in review, machine labels to confirm, a
    training on, annotators flagged (all from cached figures while no label changes)."""
    models = models or ModelWaits()
    flagged = [
        row for row in agreement_report(project).get("per_annotator", []) if row.get("needs_help")
    ]
    return {
        "in_review": _review_count(project),
        "machine_labels_pending": models.machine_labels_pending,
        "training": models.training,
        "flagged": len(flagged),
    }


def _review_count(project: Project) -> int:
    """Images in the review queue not yet decided (the review page's own count)."""
    candidates = review_candidates(project)
    if candidates.image_ids.size == 0:
        return 0
    return int((~np.isin(candidates.image_ids, decided_image_ids(project))).sum())


class LoginView(auth_views.LoginView):
    """Django's login page, answering 429 with the wait while attempts are refused."""

    redirect_authenticated_user = True

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        context["sso_name"] = settings.LABELER_OIDC_PROVIDER_NAME if sso_enabled() else ""
        # Hidden, not switched off: ?local=1 shows it (a way in while the provider is down).
        # The template shows the form unless told to hide it: the browsable API's login
        # page extends it with a context of its own.
        context["hide_local_login"] = (
            sso_enabled()
            and settings.LABELER_OIDC_HIDE_LOCAL_LOGIN
            and self.request.GET.get("local") != "1"
            and self.request.method != "POST"
        )
        return context

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        username = request.POST.get("username", "")
        wait = login_wait_seconds(username=username, address=client_address(request))
        if not wait:
            return super().post(request, *args, **kwargs)
        context = self.get_context_data(form=self.get_form(), locked_out=lockout_message(wait))
        response = self.render_to_response(context, status=429)
        response["Retry-After"] = str(wait)
        return response


@never_cache
@require_GET
def healthz(request: HttpRequest) -> JsonResponse:
    """Liveness and database reachability, for load balancers and docker-compose."""
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        return JsonResponse({"status": "ok"})
    except DatabaseError as exc:
        return JsonResponse({"status": "error", "detail": type(exc).__name__}, status=503)
