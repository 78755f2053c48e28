"""The commands other than the upload: log in and out, projects, training, exports."""

from __future__ import annotations

import argparse
import getpass
import json
import os
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import requests
from tqdm import tqdm

from labeler.client.api import Api, ClientError, config_path, config_save

POLL_SECONDS = 1.0
FINISHED_RUN = {"succeeded", "failed", "cancelled"}
FINISHED_EXPORT = {"done", "failed"}


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
    if args.keep_image_formats:
        options["convert_images"] = False
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
