"""Top-level routes: the web pages, the admin and the REST API."""

from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path

from labeler import views
from labeler.agreement import views as agreement_views
from labeler.annotations import views as annotation_views
from labeler.exports import views as export_views
from labeler.images import views as image_views
from labeler.predictions import views as prediction_views
from labeler.projects import views as project_views

urlpatterns = [
    path("", views.home, name="home"),
    path("login/", views.LoginView.as_view(), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("projects/new/", project_views.project_new, name="project-new"),
    path("projects/<int:project_id>/", project_views.project_detail, name="project-detail"),
    path("projects/<int:project_id>/settings/", project_views.project_edit, name="project-edit"),
    path(
        "projects/<int:project_id>/members/", project_views.project_members, name="project-members"
    ),
    path("projects/<int:project_id>/upload/", image_views.upload, name="project-upload"),
    path("projects/<int:project_id>/export/", export_views.export_page, name="project-export"),
    path("projects/<int:project_id>/label/", annotation_views.label, name="label"),
    path(
        "projects/<int:project_id>/agreement/",
        agreement_views.dashboard,
        name="agreement-dashboard",
    ),
    path("projects/<int:project_id>/review/", agreement_views.review, name="review"),
    path("projects/<int:project_id>/models/", prediction_views.models_page, name="models"),
    path(
        "projects/<int:project_id>/machine-review/",
        prediction_views.machine_review,
        name="machine-review",
    ),
    path(
        "files/<int:issued>/<str:signature>/<path:name>",
        image_views.file_link_serve,
        name="image-file-link",
    ),
    path("healthz/", views.healthz, name="healthz"),
    path("admin/", admin.site.urls),
    path("api/v1/auth/", include("rest_framework.urls")),
    path("api/v1/", include("api.urls")),
]

handler404 = "labeler.views.not_found"
handler500 = "labeler.views.server_error"
