"""Top-level routes: the web pages, the admin and the REST API."""

from django.contrib import admin
from django.urls import include, path

from labeler import views

urlpatterns = [
    path("", views.home, name="home"),
    path("healthz/", views.healthz, name="healthz"),
    path("admin/", admin.site.urls),
    path("api/v1/auth/", include("rest_framework.urls")),
    path("api/v1/", include("api.urls")),
]

handler404 = "labeler.views.not_found"
handler500 = "labeler.views.server_error"
