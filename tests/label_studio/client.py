"""A small client of Label Studio's REST API: what a migrating team does there by hand.

People sign up through the organisation's invite link (as an invited annotator would)
and act with their own token, so each annotation is theirs in Label Studio's own
records. Exports come two ways: the snapshot export with ``completed_by`` written as an
object with the person's e-mail (``emails=True``, what the export page's snapshots and
the SDK give), or the quick ``GET /export`` whose ``completed_by`` is Label Studio's
user id alone.

Every answer that is not a success raises ``LabelStudioError`` with the method, the
path, the status and the start of the body, so a failing test says what the server said.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import requests

# A single-choice labelling config over the image, with the names our export writes.
CONFIG = (
    '<View><Image name="image" value="$image"/>'
    '<Choices name="label" toName="image" choice="{choice}">{choices}</Choices></View>'
)


class LabelStudioError(AssertionError):
    """Label Studio answered something other than a success."""


@dataclass(frozen=True)
class LabelStudioUser:
    """A person in Label Studio: their id there, e-mail and API token."""

    id: int
    email: str
    token: str


class LabelStudio:
    """Label Studio at ``url``, as its admin (whose legacy API token is ``token``)."""

    def __init__(self, url: str, token: str, *, files_root: Path) -> None:
        self.url = url.rstrip("/")
        self.token = token
        self.files_root = files_root  # LOCAL_FILES_DOCUMENT_ROOT
        self.http = requests.Session()

    def call(self, method: str, path: str, *, token: str | None = None, **kwargs: Any) -> Any:
        """The JSON answer of one API call (or the response itself with ``raw=True``)."""
        raw = kwargs.pop("raw", False)
        headers = {"Authorization": f"Token {token or self.token}", **kwargs.pop("headers", {})}
        response = self.http.request(method, self.url + path, headers=headers, timeout=60, **kwargs)
        if not response.ok:
            raise LabelStudioError(
                f"Label Studio: {method} {path} answered {response.status_code}: "
                f"{response.text[:1000]}"
            )
        if raw:
            return response
        return response.json() if response.content else None

    def user_add(self, email: str, password: str = "label-studio-pass-1") -> LabelStudioUser:
        """Sign a person up through the organisation's invite link and fetch their token."""
        invite = self.call("GET", "/api/invite")["invite_url"]
        browser = requests.Session()
        browser.get(self.url + invite, timeout=60).raise_for_status()
        answer = browser.post(
            self.url + invite,
            data={
                "email": email,
                "password": password,
                "csrfmiddlewaretoken": browser.cookies["csrftoken"],
            },
            headers={"Referer": self.url + invite},
            allow_redirects=False,
            timeout=60,
        )
        if answer.status_code != 302:
            raise LabelStudioError(
                f"Label Studio refused the sign-up of {email}: {answer.text[:500]}"
            )
        token = browser.get(self.url + "/api/current-user/token", timeout=60).json()["token"]
        me = self.call("GET", "/api/current-user/whoami", token=token)
        return LabelStudioUser(id=me["id"], email=me["email"], token=token)

    def users(self) -> dict[int, str]:
        """``{id: e-mail}`` of the organisation's people."""
        return {user["id"]: user["email"] for user in self.call("GET", "/api/users/")}

    def project_create(self, title: str, labels: list[str], *, multiple: bool = False) -> int:
        choices = "".join(f'<Choice value="{label}"/>' for label in labels)
        config = CONFIG.format(choice="multiple" if multiple else "single", choices=choices)
        project = self.call("POST", "/api/projects/", json={"title": title, "label_config": config})
        return int(project["id"])

    def files_upload(self, project: int, files: dict[str, bytes]) -> dict[str, Any]:
        """Upload image files, one task each, as the import page does (each file in a
        field of its own: Label Studio keeps one file per field name)."""
        fields = {f"file{n}": (name, data) for n, (name, data) in enumerate(files.items())}
        return self.call("POST", f"/api/projects/{project}/import", files=fields)

    def tasks_import(self, project: int, tasks: list[dict[str, Any]] | bytes) -> dict[str, Any]:
        """Import tasks: a list, or a JSON file's bytes (as the import page sends one)."""
        if isinstance(tasks, bytes):
            return self.call(
                "POST", f"/api/projects/{project}/import", files={"file": ("tasks.json", tasks)}
            )
        return self.call("POST", f"/api/projects/{project}/import", json=tasks)

    def local_storage_add(self, project: int, folder: Path) -> None:
        """Connect a folder under the document root, so that its files are served to the
        project at ``/data/local-files/?d=<path under the root>`` (without making tasks)."""
        self.call(
            "POST",
            "/api/storages/localfiles/",
            json={
                "project": project,
                "path": str(folder),
                "use_blob_urls": True,
                "title": folder.name,
            },
        )

    def tasks(self, project: int) -> list[dict[str, Any]]:
        """Every task of the project with its annotations, in id order."""
        answer = self.call(
            "GET", "/api/tasks", params={"project": project, "page_size": 10000, "fields": "all"}
        )
        tasks = sorted(answer["tasks"], key=lambda task: task["id"])
        for task in tasks:
            task["annotations"] = self.call("GET", f"/api/tasks/{task['id']}/annotations/")
        return tasks

    def annotate(
        self,
        task: int,
        choices: list[str],
        *,
        user: LabelStudioUser,
        lead_time: float | None = None,
        cancelled: bool = False,
    ) -> dict[str, Any]:
        """An annotation by ``user`` (with their own token); ``cancelled``: a skip."""
        body: dict[str, Any] = {"result": [] if cancelled else result_of(choices)}
        if lead_time is not None:
            body["lead_time"] = lead_time
        if cancelled:
            body["was_cancelled"] = True
        return self.call("POST", f"/api/tasks/{task}/annotations/", token=user.token, json=body)

    def ground_truth_mark(self, annotation: int) -> None:
        self.call("PATCH", f"/api/annotations/{annotation}/", json={"ground_truth": True})

    def export(self, project: int, export_type: str = "JSON", *, emails: bool = True) -> bytes:
        """The project's export as a file's bytes: ``JSON``, ``CSV``, ``TSV``... With
        ``emails``, a snapshot whose annotations name their person by e-mail; without,
        the quick export, which names them by Label Studio's user id."""
        if not emails:
            response = self.call(
                "GET",
                f"/api/projects/{project}/export",
                params={"exportType": export_type},
                raw=True,
            )
            return response.content
        options = {"annotations__completed_by": {"only_id": False}}
        snapshot = self.call(
            "POST", f"/api/projects/{project}/exports/", json={"serialization_options": options}
        )
        base = f"/api/projects/{project}/exports/{snapshot['id']}"
        self._wait_for(base, lambda s: s["status"] == "completed", "the snapshot")
        if export_type != "JSON":
            self.call("POST", f"{base}/convert", json={"export_type": export_type})
            self._wait_for(
                base,
                lambda s: any(
                    f["export_type"] == export_type and f["status"] == "completed"
                    for f in s["converted_formats"]
                ),
                f"the {export_type} conversion",
            )
        response = self.call(
            "GET", f"{base}/download", params={"exportType": export_type}, raw=True
        )
        return response.content

    def _wait_for(self, path: str, done: Any, what: str, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while True:
            state = self.call("GET", path)
            if done(state):
                return
            if state.get("status") == "failed" or time.monotonic() > deadline:
                raise LabelStudioError(f"Label Studio did not finish {what}: {state}")
            time.sleep(0.2)


def result_of(choices: list[str]) -> list[dict[str, Any]]:
    """An annotation's ``result`` giving these choices."""
    return [
        {"from_name": "label", "to_name": "image", "type": "choices", "value": {"choices": choices}}
    ]


def choices_of(annotation: dict[str, Any]) -> list[str]:
    """The choices an annotation gives."""
    return [
        c
        for item in annotation["result"]
        if item["type"] == "choices"
        for c in item["value"]["choices"]
    ]
