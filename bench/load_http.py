"""A small HTTP/1.1 client as a browser tab uses the site: keep-alive, cookies, CSRF.

Built on ``http.client`` so that a load-generator thread costs little CPU: one
persistent connection per host, the session cookie and the CSRF token sent as the
browser sends them (``X-CSRFToken`` on writes, see static/js/label.js). URLs the API
hands out (an image's ``file_url``) are followed as given, on whichever host they name.
"""

from __future__ import annotations

import http.client
import json
import re
import urllib.parse
from dataclasses import dataclass, field
from http.cookies import SimpleCookie
from typing import Any

# A connection the server closed while idle fails on the next request without an answer;
# such a request was never processed and is sent again once on a new connection.
_STALE = (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError)
_CSRF_META = re.compile(r'<meta name="csrf-token" content="([^"]+)"')
_CSRF_FIELD = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')


@dataclass(frozen=True)
class Response:
    status: int
    body: bytes
    headers: http.client.HTTPMessage

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class Browser:
    """One user's connections, cookies and CSRF token."""

    base_url: str
    cookies: dict[str, str] = field(default_factory=dict)
    csrf_token: str = ""
    reconnects: int = 0
    _connections: dict[str, http.client.HTTPConnection] = field(default_factory=dict)

    def request(
        self,
        method: str,
        url: str,
        body: bytes | None = None,
        headers: dict[str, str] | None = None,
    ) -> Response:
        """Send a request (a path on the site, or an absolute URL) and read the whole answer."""
        netloc, path = self._split(url)
        sent = {"Accept": "application/json, text/html;q=0.9, */*;q=0.8", **(headers or {})}
        if self.cookies:
            sent["Cookie"] = "; ".join(f"{key}={value}" for key, value in self.cookies.items())
        if method not in ("GET", "HEAD") and self.csrf_token:
            sent["X-CSRFToken"] = self.csrf_token
        for attempt in (1, 2):
            connection = self._connection(netloc)
            try:
                connection.request(method, path, body=body, headers=sent)
                answer = connection.getresponse()
                data = answer.read()
            except _STALE:
                connection.close()
                if attempt == 2:
                    raise
                self.reconnects += 1
                continue
            self._keep_cookies(answer.headers)
            return Response(answer.status, data, answer.headers)
        raise AssertionError("unreachable")

    def get(self, url: str) -> Response:
        return self.request("GET", url)

    def post_json(self, url: str, payload: Any) -> Response:
        body = json.dumps(payload).encode()
        return self.request("POST", url, body, {"Content-Type": "application/json"})

    def connect(self) -> None:
        """Open the connection to the site now, outside anything timed."""
        self._connection(urllib.parse.urlsplit(self.base_url).netloc).connect()

    def close(self) -> None:
        for connection in self._connections.values():
            connection.close()
        self._connections.clear()

    def login(self, username: str, password: str, landing: str) -> None:
        """Log in through the login form, then read the CSRF token off ``landing``."""
        form = self.get("/login/")
        found = _CSRF_FIELD.search(form.body.decode())
        if form.status != 200 or found is None:
            raise RuntimeError(f"login page answered {form.status} without a CSRF field")
        body = urllib.parse.urlencode(
            {"username": username, "password": password, "csrfmiddlewaretoken": found[1]}
        ).encode()
        answer = self.request(
            "POST", "/login/", body, {"Content-Type": "application/x-www-form-urlencoded"}
        )
        if answer.status != 302 or "sessionid" not in self.cookies:
            raise RuntimeError(f"login of {username} failed: {answer.status}")
        page = self.get(landing)
        meta = _CSRF_META.search(page.body.decode())
        if page.status != 200 or meta is None:
            raise RuntimeError(f"{landing} answered {page.status} without a CSRF token")
        self.csrf_token = meta[1]

    def _split(self, url: str) -> tuple[str, str]:
        parts = urllib.parse.urlsplit(url)
        if parts.scheme not in ("", "http"):
            raise ValueError(f"only plain HTTP is spoken here, not {url!r}")
        netloc = parts.netloc or urllib.parse.urlsplit(self.base_url).netloc
        path = parts.path + (f"?{parts.query}" if parts.query else "")
        return netloc, path

    def _connection(self, netloc: str) -> http.client.HTTPConnection:
        connection = self._connections.get(netloc)
        if connection is None:
            connection = http.client.HTTPConnection(netloc, timeout=120)
            self._connections[netloc] = connection
        return connection

    def _keep_cookies(self, headers: http.client.HTTPMessage) -> None:
        for line in headers.get_all("Set-Cookie") or []:
            cookie: SimpleCookie = SimpleCookie()
            cookie.load(line)
            for key, morsel in cookie.items():
                if morsel["max-age"] == "0" or not morsel.value:
                    self.cookies.pop(key, None)
                else:
                    self.cookies[key] = morsel.value


def multipart(files: list[tuple[str, bytes, str]], field_name: str = "files") -> tuple[bytes, str]:
    """A multipart/form-data body of the files (name, bytes, content type) and its type."""
    boundary = "bench-load-boundary-7d1f0c2a"
    parts = []
    for name, data, content_type in files:
        head = (
            f'--{boundary}\r\nContent-Disposition: form-data; name="{field_name}"; '
            f'filename="{name}"\r\nContent-Type: {content_type}\r\n\r\n'
        )
        parts += [head.encode(), data, b"\r\n"]
    parts.append(f"--{boundary}--\r\n".encode())
    return b"".join(parts), f"multipart/form-data; boundary={boundary}"
