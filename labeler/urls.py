"""Top-level routes: the web pages (labeler.web.urls), the admin and the REST API."""

from django.contrib import admin
from django.urls import include, path

urlpatterns = [
    path("", include("labeler.web.urls")),
    path("admin/", admin.site.urls),
    path("api/v1/auth/", include("rest_framework.urls")),
    path("api/v1/", include("api.urls")),
]

handler404 = "labeler.web.handlers.not_found"
handler500 = "labeler.web.handlers.server_error"
