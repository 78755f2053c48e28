"""Top-level routes: the REST API, the admin and the web pages (labeler.web.urls).

Django tries the patterns in order, one regular expression each: the API's prefix comes
first, so that an annotator's calls do not try every page's pattern before their own.
"""

from django.contrib import admin
from django.urls import include, path

urlpatterns = [
    path("api/v1/auth/", include("rest_framework.urls")),
    path("api/v1/", include("api.urls")),
    path("admin/", admin.site.urls),
    path("", include("labeler.web.urls")),
]

handler404 = "labeler.web.handlers.not_found"
handler500 = "labeler.web.handlers.server_error"
