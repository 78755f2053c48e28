"""Set up the test provider's data: ``python -m tests.oidc_provider.seed '<json>'``.

The JSON holds ``client`` ({"client_id", "client_secret", "redirect_uri"}) and ``users``
([{"username", "password", "email", "first_name", "last_name", "groups": [...]}]);
users already there get their groups replaced (a group taken away between logins).
"""

import json
import os
import sys

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.oidc_provider.settings")
django.setup()

from django.contrib.auth.models import Group, User  # noqa: E402
from oauth2_provider.models import Application  # noqa: E402


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


if __name__ == "__main__":
    seed(json.loads(sys.argv[1]))
