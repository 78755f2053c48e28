"""Set up the test provider's data: ``POST /test-seed/`` on the provider, a JSON body.

The JSON holds ``client`` ({"client_id", "client_secret", "redirect_uri"}) and ``users``
([{"username", "password", "email", "first_name", "last_name", "groups": [...]}]);
users already there get their groups replaced (a group taken away between logins).

A view of the running provider rather than a command: a process of its own a call cost
about a second of CPU, and the single sign-on tests seed the provider a few dozen times.
The request must carry the key the provider was started with (``OIDC_PROVIDER_SEED_KEY``).
"""

from __future__ import annotations

import json
import os
import secrets

from django.contrib.auth.models import Group, User
from django.db import transaction
from django.http import HttpRequest, HttpResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST
from oauth2_provider.models import Application

from tests.oidc_provider.server import KEY_HEADER


def seed(data: dict) -> None:
    client = data.get("client")
    if client:
        Application.objects.update_or_create(
            client_id=client["client_id"],
            defaults={
                "name": "labeler",
                "client_secret": client["client_secret"],
                "client_type": Application.CLIENT_CONFIDENTIAL,
                "authorization_grant_type": Application.GRANT_AUTHORIZATION_CODE,
                "redirect_uris": client["redirect_uri"],
                "algorithm": Application.RS256_ALGORITHM,
                "skip_authorization": True,
            },
        )
    for spec in data.get("users", []):
        user, _ = User.objects.get_or_create(username=spec["username"])
        user.email = spec.get("email", "")
        user.first_name = spec.get("first_name", "")
        user.last_name = spec.get("last_name", "")
        user.set_password(spec["password"])
        user.save()
        user.groups.set([Group.objects.get_or_create(name=name)[0] for name in spec["groups"]])


@csrf_exempt
@require_POST
def seed_view(request: HttpRequest) -> HttpResponse:
    key = os.environ.get("OIDC_PROVIDER_SEED_KEY", "")
    if not key or not secrets.compare_digest(request.headers.get(KEY_HEADER, ""), key):
        return HttpResponse("wrong or missing seed key", status=403)
    with transaction.atomic():
        seed(json.loads(request.body))
    return HttpResponse(status=204)
