"""A project's webhooks page: the addresses that hear its events, adding one, a test
ping, and each delivery's answer. Leads and admins only.

The page is drawn by ``static/js/webhooks.js`` over the REST API (``api/webhooks.py``),
which holds the rules; this view only checks who may open it and hands over the events.
"""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from labeler.web.pages import page_project
from labeler.webhooks.events import EVENTS


@login_required
@require_GET
def webhooks_page(request: HttpRequest, project_id: int) -> HttpResponse:
    """The project's webhooks and their deliveries."""
    project = page_project(request, project_id, manage=True)
    events = [{"name": kind.name, "cause": kind.cause} for kind in EVENTS]
    return render(request, "webhooks/webhooks.html", {"project": project, "events": events})
