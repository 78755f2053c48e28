"""Three journeys traced file by file: which repository files a call visits, and how many
times it climbs back up the layers.

The journeys, each measured after a warm-up of the same kind (so that imports and first
calls' caches are not counted), in process on a temporary SQLite database with the tests'
settings (``tests.settings``: tasks run in process, eagerly):

1. **submit**: an annotator's ``POST /api/v1/projects/<id>/annotations/`` through the API
   client, on an image the queue handed them.
2. **training's end**: a second training of a tiny project (three colours; the first is the
   warm-up and becomes the current model), from the moment the fit has produced the
   weights (the call of ``worker.model_jobs._validation_metrics``) to the end of the task:
   validation and test figures, the comparison with the current model, the weights file,
   the version stored, the promotion and the pre-label pass that follows (its tasks run in
   process).
3. **import**: a lead's ``POST /api/v1/projects/<id>/imports/`` with two files and a CSV
   labels file.

Every Python call event (``sys.setprofile``, calls only) whose code lies in ``labeler/``,
``api/`` or ``worker/`` is kept with its caller: the nearest frame up the stack in those
folders (a callback Django runs, ``on_commit`` say, counts as called by the repository code
that ran it). The files are listed in the order first visited. A **climb** is a call from a
file into another file of a higher layer, the layers as the layers contract of
``pyproject.toml`` lists them, under the faces (``api/``, ``labeler/web/``, ``worker/``,
``labeler/http/``, the URLs) and over the plumbing (the other files at the root of
``labeler/``, ``outbox/``, ``idempotency/``); siblings of one layer are level. Two figures:
every such call (``climbs``), and the distinct pairs of files (``climbing pairs``).

    python bench/journeys.py                 # the three journeys, files listed
    python bench/journeys.py --quiet         # the figures only
    python bench/journeys.py import          # one of submit, training, import

Runs against the tree it sits in: copied into an older checkout (``git worktree add``), it
measures that one. No PostgreSQL or Redis needed.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import threading
import tomllib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
FOLDERS = ("labeler/", "api/", "worker/")
FACES = ("api/", "worker/", "labeler/web/", "labeler/http/", "labeler/urls.py")
TOP = 1000


def layer_ranks() -> list[tuple[str, int]]:
    """(module prefix, rank) from the layers contract: the highest layer ranks highest."""
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    contracts = config["tool"]["importlinter"]["contracts"]
    layers = next(c["layers"] for c in contracts if c["type"] == "layers" and "containers" not in c)
    ranks = []
    for position, layer in enumerate(reversed(layers), start=1):
        for module in layer.split("|"):
            ranks.append((module.strip().replace(".", "/"), position))
    return ranks


RANKS = layer_ranks()


def rank_of(path: str) -> int:
    """The layer a repository file belongs to (faces on top, plumbing at 0)."""
    if path.startswith(FACES):
        return TOP
    for prefix, rank in RANKS:
        if path == prefix + ".py" or path.startswith(prefix + "/"):
            return rank
    return 0


@dataclass
class Trace:
    """The calls between files, each marked when it ran inside a task the journey started
    (a task that ``labeler/jobs.py`` ran in process: in production, sent to a worker)."""

    calls: list[tuple[str, str, bool]] = field(default_factory=list)
    visits: list[tuple[str, bool]] = field(default_factory=list)
    functions: dict[str, dict[str, None]] = field(default_factory=dict)
    _tasks: list[FrameType] = field(default_factory=list)
    _paths: dict[str, str | None] = field(default_factory=dict)

    def path(self, filename: str) -> str | None:
        known = self._paths.get(filename, "?")
        if known != "?":
            return known
        try:
            relative = Path(filename).resolve().relative_to(ROOT).as_posix()
        except ValueError:
            relative = None
        if relative is not None and not relative.startswith(FOLDERS):
            relative = None
        self._paths[filename] = relative
        return relative

    def profile(self, frame: FrameType, event: str, arg: Any) -> None:
        if event == "return":
            if self._tasks and frame is self._tasks[-1]:
                self._tasks.pop()
            return
        if event != "call":
            return
        callee = self.path(frame.f_code.co_filename)
        if callee is None:
            return
        caller = None
        caller_frame = frame.f_back
        while caller_frame is not None and caller is None:
            caller = self.path(caller_frame.f_code.co_filename)
            caller_frame = caller_frame.f_back
        if callee == "worker/tasks.py" and caller == "labeler/jobs.py":
            self._tasks.append(frame)
        in_task = bool(self._tasks)
        self.visits.append((callee, in_task))
        self.functions.setdefault(callee, {})[frame.f_code.co_name] = None
        if caller is not None and caller != callee:
            self.calls.append((caller, callee, in_task))

    def files(self, tasks: bool) -> list[str]:
        """The files visited, in the order first seen; with the tasks' or without."""
        return list(dict.fromkeys(path for path, in_task in self.visits if tasks or not in_task))

    def climbs(self, tasks: bool) -> list[tuple[str, str]]:
        return [
            (a, b)
            for a, b, in_task in self.calls
            if (tasks or not in_task) and rank_of(b) > rank_of(a)
        ]


@contextmanager
def traced(trace: Trace) -> Iterator[None]:
    threading.setprofile(trace.profile)
    sys.setprofile(trace.profile)
    try:
        yield
    finally:
        sys.setprofile(None)
        threading.setprofile(None)


def setup() -> Callable[[], None]:
    """Django on a temporary SQLite database with the tests' settings; returns the tear-down."""
    sys.path.insert(0, str(ROOT))
    scratch = Path(tempfile.mkdtemp(prefix="journeys-"))
    os.environ.pop("DATABASE_URL", None)
    os.environ.pop("REDIS_URL", None)
    os.environ["DJANGO_SETTINGS_MODULE"] = "tests.settings"
    os.environ["SQLITE_TEST_DB"] = str(scratch / "db.sqlite3")
    import django
    from django.conf import settings

    django.setup()
    from django.db import connection
    from django.test.utils import setup_test_environment, teardown_test_environment

    setup_test_environment()
    old_name = connection.settings_dict["NAME"]
    connection.creation.create_test_db(verbosity=0, serialize=False)
    settings.MEDIA_ROOT = scratch / "media"
    settings.LABELER_MODEL_DIR = scratch / "models"
    settings.LABELER_INPUT_CACHE_DIR = str(scratch / "inputs")

    def teardown() -> None:
        from tests.audit_support import audit_table_empty

        audit_table_empty()
        connection.creation.destroy_test_db(old_name, verbosity=0)
        teardown_test_environment()
        shutil.rmtree(scratch, ignore_errors=True)

    return teardown


def submit_journey() -> Trace:
    from django.core.files.uploadedfile import SimpleUploadedFile

    from labeler import flows
    from labeler.projects.models import Role
    from tests.conftest import client_for
    from tests.factories import ProjectFactory, UserFactory, add_member, hold
    from tests.factories import image_bytes as png

    lead, annotator = UserFactory(username="s-lead"), UserFactory(username="s-ann")
    project: Any = ProjectFactory(name="Submit", overlap=2)
    add_member(project, lead, Role.LEAD)
    add_member(project, annotator)
    files = [SimpleUploadedFile(f"s{i}.png", png()) for i in range(2)]
    ids = [r.image_id for r in flows.images_ingest(project=project, files=files)]
    client = client_for(annotator)
    url = f"/api/v1/projects/{project.pk}/annotations/"
    trace = Trace()
    for n, image_id in enumerate(ids):
        hold(project, annotator, image_id)
        body = {"image": image_id, "labels": ["dog"], "time_spent_ms": 1500}
        if n == 0:
            response = client.post(url, body, format="json")
        else:
            with traced(trace):
                response = client.post(url, body, format="json")
        assert response.status_code == 201, response.content
    return trace


def training_journey() -> Trace:
    from labeler.predictions.models import ModelVersion
    from tests.conftest import client_for
    from tests.factories import UserFactory, annotation_submit
    from tests.worker.ml_project import CLASSES, colour_png, ingest, ml_project
    from worker import model_jobs

    lead: Any = UserFactory(username="t-lead")
    annotator: Any = UserFactory(username="t-ann")
    project, _, _ = ml_project(lead, annotator)
    client = client_for(lead)
    url = f"/api/v1/projects/{project.pk}/train/"
    assert client.post(url, {}).status_code == 202
    assert ModelVersion.objects.filter(project=project).count() == 1
    # New labels, so that a second training is due.
    pure = [(1.0, 0.0, 0.0), (0.0, 1.0, 0.0), (0.0, 0.0, 1.0)]
    for k, name in enumerate(CLASSES):
        for image in ingest(
            project, [colour_png(pure[k], 7000 + 10 * k + i) for i in range(2)], f"n{name}"
        ):
            annotation_submit(
                project=project, annotator=annotator, image_id=image.pk, labels=[name]
            )
    trace = Trace()
    metrics, train = model_jobs._validation_metrics, model_jobs._train

    def started(*args: Any, **kwargs: Any) -> Any:
        threading.setprofile(trace.profile)
        sys.setprofile(trace.profile)
        return metrics(*args, **kwargs)

    def ended(*args: Any, **kwargs: Any) -> Any:
        try:
            return train(*args, **kwargs)
        finally:  # the request that started the training answers after it: not counted
            sys.setprofile(None)
            threading.setprofile(None)

    model_jobs._validation_metrics, model_jobs._train = started, ended
    try:
        assert client.post(url, {}).status_code == 202
    finally:
        model_jobs._validation_metrics, model_jobs._train = metrics, train
    assert ModelVersion.objects.filter(project=project).count() == 2, "no second version"
    return trace


def import_journey() -> Trace:
    from django.core.files.uploadedfile import SimpleUploadedFile

    from labeler.projects.models import Role
    from tests.conftest import client_for
    from tests.factories import ProjectFactory, UserFactory, add_member
    from tests.factories import image_bytes as png

    lead = UserFactory(username="i-lead")
    project: Any = ProjectFactory(name="Import")
    add_member(project, lead, Role.LEAD)
    client = client_for(lead)
    url = f"/api/v1/projects/{project.pk}/imports/"
    trace = Trace()
    for n in range(2):
        names = [f"i{n}a.png", f"i{n}b.png"]
        labels = "file,label\n" + "".join(
            f"{name},{lab}\n" for name, lab in zip(names, ("cat", "dog"), strict=True)
        )
        payload = {
            "files": [
                SimpleUploadedFile(name, png(seed=100 + 10 * n + i)) for i, name in enumerate(names)
            ],
            "labels_file": SimpleUploadedFile("labels.csv", labels.encode()),
            "labels_format": "csv",
        }
        if n == 0:
            response = client.post(url, payload, format="multipart")
        else:
            with traced(trace):
                response = client.post(url, payload, format="multipart")
        assert response.status_code == 201, response.content
    return trace


JOURNEYS: dict[str, Callable[[], Trace]] = {
    "submit": submit_journey,
    "training": training_journey,
    "import": import_journey,
}


def report(name: str, trace: Trace, quiet: bool) -> None:
    for tasks in (False, True):
        files, climbs = trace.files(tasks), trace.climbs(tasks)
        pairs = sorted(set(climbs))
        scope = "with the tasks it started, run in process" if tasks else "tasks left enqueued"
        print(
            f"\n## {name} ({scope}): {len(files)} files,"
            f" {len(climbs)} climbs, {len(pairs)} climbing pairs"
        )
        if quiet:
            continue
        for number, path in enumerate(files, start=1):
            names = ", ".join(list(trace.functions[path])[:5])
            print(f"{number:3}. {path}  (layer {rank_of(path)}): {names}")
        print("climbing pairs (caller -> callee, calls):")
        for a, b in pairs:
            print(f"     {a} -> {b}  ({climbs.count((a, b))})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quiet", action="store_true", help="the figures only")
    parser.add_argument("journeys", nargs="*", help=f"some of {', '.join(JOURNEYS)} (all)")
    args = parser.parse_args()
    unknown = set(args.journeys) - set(JOURNEYS)
    if unknown:
        parser.error(f"no journey {', '.join(sorted(unknown))}: {', '.join(JOURNEYS)}")
    teardown = setup()
    try:
        for name in args.journeys or list(JOURNEYS):
            report(name, JOURNEYS[name](), args.quiet)
    finally:
        teardown()


if __name__ == "__main__":
    main()
