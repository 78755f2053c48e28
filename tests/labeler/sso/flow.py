"""The sign-in flow driven with requests, as a browser would: labeler, the provider's login
form, and back."""

from __future__ import annotations

import re
from urllib.parse import parse_qs, urljoin, urlsplit

import requests

from tests.oidc_provider.fixtures import PASSWORD


def follow(session: requests.Session, url: str, *, until: str = "") -> requests.Response:
    """GET ``url`` and follow redirects, stopping before one to an address starting ``until``."""
    response = session.get(url, allow_redirects=False, timeout=20)
    while response.is_redirect:
        target = urljoin(response.url, response.headers["Location"])
        if until and target.startswith(until):
            response.headers["Location"] = target
            return response
        response = session.get(target, allow_redirects=False, timeout=20)
    return response


def provider_login(
    session: requests.Session, response: requests.Response, username: str
) -> requests.Response:
    """Fill in the provider's login form on ``response`` and send it (no redirect followed)."""
    assert "Test provider" in response.text, response.text[:500]
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', response.text)
    assert token is not None
    return session.post(
        response.url,
        data={
            "csrfmiddlewaretoken": token.group(1),
            "username": username,
            "password": PASSWORD,
            "next": parse_qs(urlsplit(response.url).query)["next"][0],
        },
        allow_redirects=False,
        timeout=20,
    )


def callback_address(site: str, username: str, session: requests.Session) -> str:
    """Start signing in at ``site`` and log in at the provider; the address of the callback
    the provider sends the browser back to (not yet opened)."""
    form = follow(session, f"{site}/sso/login/?next=/")
    sent = provider_login(session, form, username)
    back = follow(session, urljoin(sent.url, sent.headers["Location"]), until=site)
    assert back.headers["Location"].startswith(f"{site}/sso/callback/?"), back.headers
    return back.headers["Location"]


def sign_in(site: str, username: str) -> tuple[requests.Session, requests.Response]:
    """The whole flow: the session (logged in, if it worked) and labeler's last answer."""
    session = requests.Session()
    callback = callback_address(site, username, session)
    return session, follow(session, callback)
