"""One server's REST API over HTTP, and where its address and the user's token are kept."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import requests

DEFAULT_URL = "http://127.0.0.1:8000"


class ClientError(Exception):
    """A failure the user can act on: printed without a traceback, exit status 1."""


def config_path() -> Path:
    """Where the server's address and the token are kept."""
    configured = os.environ.get("LABELER_CONFIG")
    if configured:
        return Path(configured)
    base = os.environ.get("XDG_CONFIG_HOME") or Path.home() / ".config"
    return Path(base) / "labeler" / "client.json"


def config_load() -> dict[str, str]:
    """The saved address and token, or nothing."""
    try:
        data = json.loads(config_path().read_text())
    except (OSError, ValueError):
        return {}
    return {key: value for key, value in data.items() if isinstance(value, str)}


def config_save(data: dict[str, str]) -> Path:
    """Save the address and token, readable by the user only."""
    path = config_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w") as handle:
        json.dump(data, handle)
    return path


@dataclass
class Api:
    """One server: JSON in and out, the API's error messages raised as ClientError."""

    url: str
    token: str | None = None
    session: requests.Session = field(default_factory=requests.Session)
    timeout: float = 300.0

    def request(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        headers = kwargs.pop("headers", {})
        if self.token:
            headers["Authorization"] = f"Token {self.token}"
        # `next` links of paged lists come absolute.
        absolute = path.startswith(("http://", "https://"))
        target = path if absolute else f"{self.url.rstrip('/')}/api/v1/{path.lstrip('/')}"
        try:
            response = self.session.request(
                method, target, headers=headers, timeout=self.timeout, **kwargs
            )
        except requests.RequestException as exc:
            raise ClientError(f"Cannot reach {self.url}: {exc}") from None
        if response.status_code >= 400:
            raise ClientError(_error_message(response))
        return response

    def get(self, path: str, **kwargs: Any) -> Any:
        return self.request("GET", path, **kwargs).json()

    def post(self, path: str, **kwargs: Any) -> Any:
        return self.request("POST", path, **kwargs).json()


def _error_message(response: requests.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        body = None
    detail = body.get("detail") if isinstance(body, dict) else None
    if response.status_code == 401:
        detail = f"{detail or 'Not logged in.'} Run `labeler login` first."
    return f"{response.status_code}: {detail or response.text[:300] or response.reason}"
