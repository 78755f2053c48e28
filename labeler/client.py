"""The `labeler` command: a small client of the REST API, for scripts and terminals.

It speaks to a running server over HTTP only (it never imports Django), so it works
against any deployment: log in once, then create projects, upload folders (with their
labels when the folder carries them), start training and download exports.

    labeler --url http://127.0.0.1:8000 login --username lead
    labeler projects create Pets --labels cat,dog
    labeler upload 1 ./pets --labels-from folders
    labeler train 1 --wait
    labeler export 1 --format imagefolder --split 0.8,0.1,0.1 -o pets.zip

The server's address and the token are kept in ``~/.config/labeler/client.json``
(``LABELER_CONFIG`` elsewhere), readable by the user only; ``LABELER_URL`` and
``LABELER_TOKEN`` override them.
"""

from __future__ import annotations

import argparse
import getpass
import json
import os
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import requests
from tqdm import tqdm
from urllib3.fields import format_multipart_header_param

from labeler.imports import sources

DEFAULT_URL = "http://127.0.0.1:8000"
POLL_SECONDS = 1.0
FINISHED_RUN = {"succeeded", "failed", "cancelled"}
FINISHED_EXPORT = {"done", "failed"}


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


# Commands --------------------------------------------------------------------------------


def cmd_login(api: Api, args: argparse.Namespace) -> None:
    """Exchange a username and password for a token and keep it."""
    password = args.password or os.environ.get("LABELER_PASSWORD") or getpass.getpass()
    api.token = None
    body = api.post("auth/token/", data={"username": args.username, "password": password})
    path = config_save({"url": api.url, "token": body["token"]})
    print(f"Logged in to {api.url} as {args.username}; token kept in {path}.")


def cmd_logout(api: Api, args: argparse.Namespace) -> None:
    """Forget the kept token."""
    config_path().unlink(missing_ok=True)
    print("Logged out.")


def cmd_projects_list(api: Api, args: argparse.Namespace) -> None:
    """One line per project the user belongs to."""
    for project in _all_pages(api, "projects/"):
        labels = ", ".join(label["name"] for label in project["labels"])
        print(f"{project['id']:>6}  {project['name']}  [{labels}]  role: {project['role']}")


def cmd_projects_create(api: Api, args: argparse.Namespace) -> None:
    """Create a project with its labels; prints its id."""
    labels = [name.strip() for name in args.labels.split(",") if name.strip()]
    body = {
        "name": args.name,
        "labels": labels,
        "multi_label": args.multi_label,
        "overlap": args.overlap,
        "instructions": args.instructions,
    }
    project = api.post("projects/", json=body)
    print(f"Created project {project['id']}: {project['name']}")


def cmd_upload(api: Api, args: argparse.Namespace) -> None:
    """Upload a folder's images, in batches, with a progress bar; labels when asked."""
    root = Path(args.folder)
    if not root.is_dir():
        raise ClientError(f"{root} is not a folder.")
    files = [Path(path) for path in sources.folder_files(root, recursive=not args.no_recursive)]
    if not files:
        raise ClientError(f"No image files under {root}.")
    labels = _labels_for(root, files, args)
    totals = {"created": 0, "duplicates": 0, "rejected": 0}
    refused: list[str] = []
    with tqdm(total=len(files), unit="file", disable=args.quiet) as progress:
        for batch in _batches(files, args.batch_size, args.batch_bytes):
            report = _send_batch(api, args, batch, labels)
            for key in totals:
                totals[key] += report.get(key, 0)
            refused.extend(_refusals(report))
            progress.update(len(batch))
    for line in refused:
        print(line)
    summary = ", ".join(f"{value} {key}" for key, value in totals.items())
    print(f"Uploaded {len(files)} files to project {args.project}: {summary}.")


def _labels_for(
    root: Path, files: Sequence[Path], args: argparse.Namespace
) -> dict[Path, list[str]] | None:
    if args.labels_from is None:
        return None
    if args.labels_from == "folders":
        found = sources.imagefolder_labels(root)
    elif args.labels_file is None:
        raise ClientError(f"--labels-from {args.labels_from} needs --labels-file.")
    else:
        reader = sources.csv_labels if args.labels_from == "csv" else sources.label_studio_labels
        try:
            found = reader(Path(args.labels_file))
        except (OSError, ValueError) as exc:  # LabelSourceError is a ValueError
            raise ClientError(f"Cannot read {args.labels_file}: {exc}") from None
    relative = {path: path.relative_to(root).as_posix() for path in files}
    matcher = sources.LabelMatcher(found, files=relative.values())
    labels: dict[Path, list[str]] = {}
    for path, name in relative.items():
        match = matcher.match(name)
        labels[path] = match.labels or []
        if match.labels is None and not args.quiet:
            print(f"no labels {name}: {match.reason}")
    return labels


def _batches(files: Sequence[Path], size: int, max_bytes: int) -> Iterator[list[Path]]:
    """Batches of at most `size` files and about `max_bytes` bytes (one big file alone)."""
    batch: list[Path] = []
    total = 0
    for path in files:
        length = path.stat().st_size
        if batch and (len(batch) >= size or total + length > max_bytes):
            yield batch
            batch, total = [], 0
        batch.append(path)
        total += length
    if batch:
        yield batch


def _send_batch(
    api: Api,
    args: argparse.Namespace,
    batch: Sequence[Path],
    labels: dict[Path, list[str]] | None,
) -> dict[str, Any]:
    if labels is None:
        body = MultipartBody(files=[("files", path) for path in batch])
        return api.post(f"projects/{args.project}/images/", **body.request_arguments())
    fields: list[tuple[str, str]] = [("labels", ";".join(labels[path])) for path in batch]
    fields.append(("labels_as", args.labels_as))
    if args.annotator:
        fields.append(("annotator", args.annotator))
    if args.create_labels:
        fields.append(("create_labels", "true"))
    body = MultipartBody(fields=fields, files=[("files", path) for path in batch])
    return api.post(f"projects/{args.project}/imports/", **body.request_arguments())


class MultipartBody:
    """A multipart/form-data body streamed from the files on disk, its length known.

    requests builds a form's whole body in memory (each file read, then copied into the
    body, then sent): for a batch of 50 photos that is 170 MB held and copied twice. Here
    each file is read when its turn comes and sent as read, and the Content-Length is
    summed from the files' sizes beforehand (the server needs it: a chunked form is not
    parsed). A file that changes size meanwhile is a ClientError, not a body that lies
    about its length.
    """

    READ_BYTES = 8 << 20  # a file is read and sent in pieces of at most this

    def __init__(
        self, *, fields: Sequence[tuple[str, str]] = (), files: Sequence[tuple[str, Path]] = ()
    ) -> None:
        self.boundary = os.urandom(16).hex()
        self.fields = list(fields)
        self.files = [(name, path, path.stat().st_size) for name, path in files]

    def _field_head(self, name: str) -> bytes:
        disposition = f"form-data; {format_multipart_header_param('name', name)}"
        return f"--{self.boundary}\r\nContent-Disposition: {disposition}\r\n\r\n".encode()

    def _file_head(self, name: str, path: Path) -> bytes:
        # Quoted as requests quotes a form's file names (urllib3's HTML5 style).
        disposition = (
            f"form-data; {format_multipart_header_param('name', name)}; "
            f"{format_multipart_header_param('filename', path.name)}"
        )
        return (
            f"--{self.boundary}\r\nContent-Disposition: {disposition}\r\n"
            "Content-Type: application/octet-stream\r\n\r\n"
        ).encode()

    def _tail(self) -> bytes:
        return f"--{self.boundary}--\r\n".encode()

    def __len__(self) -> int:
        length = len(self._tail())
        for name, value in self.fields:
            length += len(self._field_head(name)) + len(value.encode()) + 2
        for name, path, size in self.files:
            length += len(self._file_head(name, path)) + size + 2
        return length

    def __iter__(self) -> Iterator[bytes]:
        for name, value in self.fields:
            yield self._field_head(name) + value.encode() + b"\r\n"
        for name, path, size in self.files:
            yield self._file_head(name, path)
            sent = 0
            with path.open("rb") as handle:
                while piece := handle.read(min(self.READ_BYTES, size - sent + 1)):
                    sent += len(piece)
                    if sent > size:
                        break
                    yield piece
            if sent != size:
                raise ClientError(f"{path} changed while it was being sent; send it again.")
            yield b"\r\n"
        yield self._tail()

    def request_arguments(self) -> dict[str, Any]:
        """The ``data`` and ``headers`` that send this body with requests."""
        content_type = f"multipart/form-data; boundary={self.boundary}"
        return {"data": self, "headers": {"Content-Type": content_type}}


def _refusals(report: dict[str, Any]) -> list[str]:
    lines = []
    for result in report.get("results", []):
        if result.get("status") == "rejected":
            lines.append(f"rejected  {result['name']}: {result.get('reason', '')}")
        elif result.get("labels") == "refused":
            lines.append(f"unlabelled {result['name']}: {result.get('labels_reason', '')}")
    return lines


def cmd_train(api: Api, args: argparse.Namespace) -> None:
    """Start a training run; with --wait, follow it to its end."""
    body = {"config": json.loads(args.config)} if args.config else {}
    run = api.post(f"projects/{args.project}/train/", json=body)
    print(f"Training run {run['id']} {run['status']}.")
    if not args.wait:
        return
    run = _follow(
        api,
        f"training-runs/{run['id']}/",
        finished=FINISHED_RUN,
        position=lambda r: (r.get("epoch") or 0, r.get("epochs") or 0),
        unit="epoch",
        quiet=args.quiet,
    )
    version = f", model version {run['model_version']}" if run.get("model_version") else ""
    print(f"Training run {run['id']} {run['status']}{version}. {run.get('message') or ''}".strip())
    if run["status"] != "succeeded":
        raise ClientError(f"Training run {run['id']} ended {run['status']}.")


def cmd_export(api: Api, args: argparse.Namespace) -> None:
    """Export in a format: a background export followed to its end, then downloaded."""
    options = _export_options(args)
    output = Path(args.output)
    if args.direct:
        response = api.request(
            "GET", f"projects/{args.project}/export/", params=options, stream=True
        )
        _download(response, output, quiet=args.quiet)
        print(f"Saved {output}.")
        return
    export = api.post(f"projects/{args.project}/exports/", json=options)
    export = _follow(
        api,
        f"exports/{export['id']}/",
        finished=FINISHED_EXPORT,
        position=lambda e: (e.get("done") or 0, e.get("total") or 0),
        unit="image",
        quiet=args.quiet,
    )
    if export["status"] != "done":
        raise ClientError(
            f"Export {export['id']} failed: {export.get('error') or 'no reason given'}"
        )
    response = api.request("GET", f"exports/{export['id']}/download/", stream=True)
    _download(response, output, quiet=args.quiet)
    print(f"Saved {output} (export {export['id']}, {export.get('total', 0)} images).")


def _export_options(args: argparse.Namespace) -> dict[str, Any]:
    options: dict[str, Any] = {"format": args.format}
    for name in ("annotations", "split", "seed", "min_confidence", "min_agreement"):
        value = getattr(args, name)
        if value is not None:
            options[name] = value
    for name in ("annotator", "label", "since", "until"):
        value = getattr(args, f"filter_{name}")
        if value is not None:
            options[name] = value
    for name in ("reviewed_only", "predictions"):
        if getattr(args, name):
            options[name] = True
    return options


def _follow(
    api: Api,
    path: str,
    *,
    finished: set[str],
    position: Callable[[dict[str, Any]], tuple[int, int]],
    unit: str,
    quiet: bool,
) -> dict[str, Any]:
    """Poll a run or an export until it ends, with a progress bar."""
    with tqdm(unit=unit, disable=quiet) as progress:
        while True:
            body: dict[str, Any] = api.get(path)
            done, total = position(body)
            if total:
                progress.total = total
            progress.update(done - progress.n)
            progress.set_postfix_str(body["status"])
            if body["status"] in finished:
                return body
            time.sleep(POLL_SECONDS)


def _download(response: requests.Response, output: Path, *, quiet: bool) -> None:
    """Write the body to a temporary name and move it into place once complete."""
    total = int(response.headers.get("Content-Length") or 0) or None
    partial = output.with_name(f"{output.name}.part")
    output.parent.mkdir(parents=True, exist_ok=True)
    try:
        with (
            partial.open("wb") as handle,
            tqdm(total=total, unit="B", unit_scale=True, disable=quiet) as progress,
        ):
            for chunk in response.iter_content(chunk_size=1 << 16):
                handle.write(chunk)
                progress.update(len(chunk))
        partial.replace(output)
    except BaseException:
        partial.unlink(missing_ok=True)
        raise


def _all_pages(api: Api, path: str) -> Iterator[dict[str, Any]]:
    body = api.get(path)
    while True:
        if isinstance(body, list):
            yield from body
            return
        yield from body["results"]
        if not body.get("next"):
            return
        body = api.get(body["next"])


# Arguments -------------------------------------------------------------------------------


def build_parser() -> argparse.ArgumentParser:
    """The command line: global options, then one sub-command."""
    parser = argparse.ArgumentParser(prog="labeler", description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", help=f"the server (default: the saved one, else {DEFAULT_URL})")
    parser.add_argument("--token", help="an API token (default: the saved one)")
    parser.add_argument("-q", "--quiet", action="store_true", help="no progress bars")
    commands = parser.add_subparsers(dest="command", required=True, metavar="command")

    login = commands.add_parser("login", help="log in and keep the token")
    login.add_argument("--username", required=True)
    login.add_argument("--password", help="default: LABELER_PASSWORD, else a prompt")
    login.set_defaults(handler=cmd_login)
    commands.add_parser("logout", help="forget the kept token").set_defaults(handler=cmd_logout)

    projects = commands.add_parser("projects", help="list or create projects")
    project_commands = projects.add_subparsers(dest="action", required=True, metavar="action")
    project_commands.add_parser("list").set_defaults(handler=cmd_projects_list)
    create = project_commands.add_parser("create", help="create a project")
    create.add_argument("name")
    create.add_argument("--labels", required=True, help="comma-separated label names")
    create.add_argument("--multi-label", action="store_true")
    create.add_argument("--overlap", type=int, default=1, help="annotators per image")
    create.add_argument("--instructions", default="")
    create.set_defaults(handler=cmd_projects_create)

    _add_upload(commands)
    _add_train(commands)
    _add_export(commands)
    return parser


def _add_upload(commands: Any) -> None:
    upload = commands.add_parser("upload", help="upload a folder of images")
    upload.add_argument("project", type=int)
    upload.add_argument("folder")
    upload.add_argument("--no-recursive", action="store_true", help="top-level files only")
    upload.add_argument(
        "--labels-from",
        choices=["folders", "csv", "label-studio"],
        help="folders: an ImageFolder tree (label/file or split/label/file)",
    )
    upload.add_argument("--labels-file", help="the CSV or Label Studio JSON")
    upload.add_argument(
        "--labels-as",
        choices=["final", "gold", "annotation"],
        default="final",
        help="final labels, gold labels, or one prior annotator's annotations",
    )
    upload.add_argument("--annotator", help="the prior annotator's name (--labels-as annotation)")
    upload.add_argument("--create-labels", action="store_true", help="add unknown labels")
    upload.add_argument("--batch-size", type=int, default=50, help="files per request")
    upload.add_argument("--batch-bytes", type=int, default=64 << 20, help="bytes per request")
    upload.set_defaults(handler=cmd_upload)


def _add_train(commands: Any) -> None:
    train = commands.add_parser("train", help="start training the project's model")
    train.add_argument("project", type=int)
    train.add_argument("--config", help="training overrides as JSON, e.g. '{\"epochs\": 20}'")
    train.add_argument("--wait", action="store_true", help="follow the run to its end")
    train.set_defaults(handler=cmd_train)


def _add_export(commands: Any) -> None:
    export = commands.add_parser("export", help="export the project's labels and download them")
    export.add_argument("project", type=int)
    export.add_argument("-f", "--format", default="json")
    export.add_argument("-o", "--output", required=True, help="the file to write")
    export.add_argument("--annotations", choices=["final", "all"])
    export.add_argument("--split", help="shares of train,val[,test], e.g. 0.8,0.1,0.1")
    export.add_argument("--seed", type=int, help="the split's seed (default 0)")
    export.add_argument("--min-confidence", type=float)
    export.add_argument("--min-agreement", type=float)
    export.add_argument("--reviewed-only", action="store_true")
    export.add_argument("--predictions", action="store_true", help="add the model's predictions")
    export.add_argument("--annotator", dest="filter_annotator")
    export.add_argument("--label", dest="filter_label")
    export.add_argument("--since", dest="filter_since", help="ISO date or date-time")
    export.add_argument("--until", dest="filter_until", help="ISO date or date-time")
    export.add_argument("--direct", action="store_true", help="stream a small export at once")
    export.set_defaults(handler=cmd_export)


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command; 0 on success, 1 with a message on a failure the user can fix."""
    args = build_parser().parse_args(argv)
    saved = config_load()
    url = args.url or os.environ.get("LABELER_URL") or saved.get("url") or DEFAULT_URL
    token = args.token or os.environ.get("LABELER_TOKEN") or saved.get("token")
    try:
        args.handler(Api(url=url, token=token), args)
    except ClientError as exc:
        print(f"labeler: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("labeler: interrupted", file=sys.stderr)
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
