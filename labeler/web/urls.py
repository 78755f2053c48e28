"""The page routes: every address a person opens in a browser, and the signed /files/ and
/export-files/ routes."""

from django.contrib.auth import views as auth_views
from django.urls import path

from labeler.web import (
    agreement,
    annotator_gate,
    audit,
    browse,
    dataset_import,
    duplicates,
    erasures,
    export_links,
    exports,
    home,
    images,
    invitations,
    labelling,
    metadata_fields,
    model_pages,
    projects,
    serving_pages,
    slices,
    sso,
    team,
    throughput,
    webhooks,
)

urlpatterns = [
    # First: every image an annotator sees comes through here.
    path(
        "files/<int:issued>/<str:signature>/<path:name>",
        images.file_link_serve,
        name="image-file-link",
    ),
    path("", home.home, name="home"),
    path("login/", home.LoginView.as_view(), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    # Single sign-on (the names are mozilla-django-oidc's): off to the provider, and back.
    path("sso/login/", sso.SsoLoginView.as_view(), name="oidc_authentication_init"),
    path("sso/callback/", sso.SsoCallbackView.as_view(), name="oidc_authentication_callback"),
    path("password-reset/", team.PasswordResetView.as_view(), name="password-reset"),
    path("password-reset/sent/", team.PasswordResetDoneView.as_view(), name="password-reset-done"),
    path(
        "password/<uidb64>/<token>/",
        team.PasswordResetConfirmView.as_view(),
        name="password-reset-confirm",
    ),
    path("password/set/", team.PasswordResetCompleteView.as_view(), name="password-reset-complete"),
    path("team/", team.team, name="team"),
    path("email/", team.email_address, name="email-address"),
    path("email/confirm/<str:token>/", team.email_confirm, name="email-confirm"),
    path("join/<str:token>/", invitations.join, name="join"),
    path("projects/new/", projects.project_new, name="project-new"),
    path("projects/<int:project_id>/", projects.project_detail, name="project-detail"),
    path("projects/<int:project_id>/settings/", projects.project_edit, name="project-edit"),
    path("projects/<int:project_id>/members/", projects.project_members, name="project-members"),
    path("projects/<int:project_id>/fields/", metadata_fields.fields_page, name="project-fields"),
    path("projects/<int:project_id>/webhooks/", webhooks.webhooks_page, name="project-webhooks"),
    path("projects/<int:project_id>/upload/", images.upload, name="project-upload"),
    path("projects/<int:project_id>/images/", browse.images_browse, name="images-browse"),
    path(
        "projects/<int:project_id>/images/erasures/",
        erasures.erasures_page,
        name="project-erasures",
    ),
    path(
        "projects/<int:project_id>/images/<int:image_id>/",
        browse.image_page,
        name="image-page",
    ),
    path("projects/<int:project_id>/export/", exports.export_page, name="project-export"),
    path("projects/<int:project_id>/import/", dataset_import.import_page, name="project-import"),
    path("audit/", audit.audit_page, name="audit"),
    path("projects/<int:project_id>/audit/", audit.project_audit_page, name="project-audit"),
    path(
        "projects/<int:project_id>/throughput/",
        throughput.throughput_page,
        name="project-throughput",
    ),
    path("projects/<int:project_id>/label/", labelling.label, name="label"),
    path(
        "projects/<int:project_id>/agreement/",
        agreement.dashboard,
        name="agreement-dashboard",
    ),
    path("projects/<int:project_id>/review/", agreement.review, name="review"),
    path("projects/<int:project_id>/duplicates/", duplicates.duplicates, name="duplicates"),
    path(
        "projects/<int:project_id>/qualification/<int:user_id>/",
        annotator_gate.standing_action,
        name="standing-action",
    ),
    path("projects/<int:project_id>/models/", model_pages.models_page, name="models"),
    path("projects/<int:project_id>/slices/", slices.slices_page, name="slices"),
    path(
        "projects/<int:project_id>/prediction-api/",
        serving_pages.prediction_api_page,
        name="prediction-api",
    ),
    path(
        "projects/<int:project_id>/machine-review/",
        model_pages.machine_review,
        name="machine-review",
    ),
    path(
        "export-files/<int:project_id>/<int:image_id>/<str:token>",
        export_links.export_link_serve,
        name="export-image-link",
    ),
    path("healthz/", home.healthz, name="healthz"),
]
