"""The `labeler` command line: its arguments, and running the command they name."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from typing import Any

from labeler.client.api import DEFAULT_URL, Api, ClientError, config_load
from labeler.client.commands import (
    cmd_export,
    cmd_login,
    cmd_logout,
    cmd_projects_create,
    cmd_projects_list,
    cmd_train,
)
from labeler.client.folder_labels import LABEL_SOURCES
from labeler.client.upload import EXIT_NOT_APPLIED, cmd_upload

DESCRIPTION = "The `labeler` command: a small client of the REST API, for scripts and terminals."


def build_parser() -> argparse.ArgumentParser:
    """The command line: global options, then one sub-command."""
    parser = argparse.ArgumentParser(prog="labeler", description=DESCRIPTION)
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
        choices=LABEL_SOURCES,
        help="folders: an ImageFolder tree (label/file or split/label/file); else the format "
        "of --labels-file. Those that name each annotation's person (label-studio, "
        "label-studio-csv, label-studio-tsv, cvat-xml, labelbox-ndjson, fiftyone, "
        "csv-annotators) credit each label to its person, and the file goes with each batch",
    )
    upload.add_argument("--labels-file", help="the labels file (any format of --labels-from)")
    upload.add_argument(
        "--labels-as",
        choices=["final", "gold", "annotation"],
        default="final",
        help="final labels, gold labels, or one prior annotator's annotations",
    )
    upload.add_argument("--annotator", help="the prior annotator's name (--labels-as annotation)")
    upload.add_argument("--create-labels", action="store_true", help="add unknown labels")
    upload.add_argument(
        "--annotators",
        metavar="FILE.json",
        help="whose account each person of the labels file takes: a JSON object from the "
        'person (as --dry-run lists them) to a member\'s username, or "new"',
    )
    upload.add_argument(
        "--dry-run",
        action="store_true",
        help="print the people and how they match, the counts in and the entries no file "
        "of the folder matches; send no file",
    )
    upload.add_argument(
        "--strict",
        action="store_true",
        help=f"exit with status {EXIT_NOT_APPLIED} when any record of the labels was not applied",
    )
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
    export.add_argument(
        "--split",
        help="shares of train,val[,test], e.g. 0.8,0.1,0.1; or project: the project's own "
        "train, validation and test images",
    )
    export.add_argument("--seed", type=int, help="the seed of a split by shares (default 0)")
    export.add_argument(
        "--keep-image-formats",
        action="store_true",
        help="imagefolder, hf-imagefolder: keep HEIC, AVIF and GIF images as they are "
        "(converted to JPEG and PNG by default)",
    )
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
    """Run one command; 0 on success, 1 with a message on a failure the user can fix,
    3 for an upload with --strict that did not apply every record of its labels."""
    args = build_parser().parse_args(argv)
    saved = config_load()
    url = args.url or os.environ.get("LABELER_URL") or saved.get("url") or DEFAULT_URL
    token = args.token or os.environ.get("LABELER_TOKEN") or saved.get("token")
    try:
        status = args.handler(Api(url=url, token=token), args)
    except ClientError as exc:
        print(f"labeler: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("labeler: interrupted", file=sys.stderr)
        return 130
    return status or 0
