"""Plain Django pages: the landing page and the health check."""

from __future__ import annotations

from django.db import connection
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from labeler.projects.selectors import projects_visible_to


@require_GET
def home(request: HttpRequest) -> HttpResponse:
    """The landing page: the caller's projects and where to go next."""
    projects = projects_visible_to(request.user).order_by("name")
    return render(request, "home.html", {"projects": projects})


@never_cache
@require_GET
def healthz(request: HttpRequest) -> JsonResponse:
    """Liveness and database reachability, for load balancers and docker-compose."""
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        return JsonResponse({"status": "ok"})
    except Exception as exc:  # any driver error means "not ready"
        return JsonResponse({"status": "error", "detail": type(exc).__name__}, status=503)
