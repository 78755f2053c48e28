"""The `labeler` command-line client, run against the live test server over HTTP."""

from __future__ import annotations

import json
import stat
import zipfile
from pathlib import Path

import pytest
from django.contrib.auth.models import Permission, User

from labeler import client
from labeler.annotations.models import Annotation, FinalLabel, FinalLabelMethod
from labeler.client import folder_labels as folder_labels_module
from labeler.client import upload
from labeler.client.cli import build_parser
from labeler.client.commands import _export_options
from labeler.client.folder_labels import folder_labels
from labeler.images.models import Image
from labeler.projects.models import Project
from tests.factories import UserFactory, image_bytes

PASSWORD = "correct-horse-battery"


@pytest.fixture(autouse=True)
def config_file(tmp_path, monkeypatch) -> Path:
    """Each test keeps its token in a file of its own."""
    path = tmp_path / "config" / "client.json"
    monkeypatch.setenv("LABELER_CONFIG", str(path))
    for name in ("LABELER_URL", "LABELER_TOKEN", "LABELER_PASSWORD"):
        monkeypatch.delenv(name, raising=False)
    return path


@pytest.fixture
def run(live_server, capsys):
    """Run the client against the live server; returns (exit status, stdout, stderr)."""

    def invoke(*argv: str) -> tuple[int, str, str]:
        status = client.main(["--url", live_server.url, "--quiet", *argv])
        captured = capsys.readouterr()
        return status, captured.out, captured.err

    return invoke


@pytest.fixture
def logged_in(run, transactional_db):
    """Lena may create projects (and so leads the ones she creates)."""
    lena = UserFactory(username="lena")
    lena.user_permissions.add(Permission.objects.get(codename="add_project"))
    assert run("login", "--username", "lena", "--password", PASSWORD)[0] == 0


def write_imagefolder(root: Path, counts: dict[str, int]) -> None:
    """An ImageFolder tree: root/label/file, each image different."""
    seed = 0
    for label, count in counts.items():
        (root / label).mkdir(parents=True)
        for index in range(count):
            seed += 1
            (root / label / f"{index:03}.png").write_bytes(image_bytes(seed=seed))


def test_login_keeps_the_token_for_the_user_only(run, config_file, transactional_db):
    """A good login saves url and token in a file only its owner can read."""
    UserFactory(username="lena")
    status, out, _ = run("login", "--username", "lena", "--password", PASSWORD)
    assert status == 0
    assert "Logged in" in out
    saved = json.loads(config_file.read_text())
    assert len(saved["token"]) == 40
    assert stat.S_IMODE(config_file.stat().st_mode) == 0o600


def test_a_wrong_password_says_so_and_keeps_nothing(run, config_file, transactional_db):
    UserFactory(username="lena")
    status, _, err = run("login", "--username", "lena", "--password", "wrong")
    assert status == 1
    assert err.startswith("labeler: 400: ")
    assert not config_file.exists()


def test_without_a_token_the_client_says_to_log_in(run, transactional_db):
    status, _, err = run("projects", "list")
    assert status == 1
    assert "labeler login" in err


def test_an_unreachable_server_is_a_clear_error(capsys):
    status = client.main(["--url", "http://127.0.0.1:9", "projects", "list"])
    assert status == 1
    assert "Cannot reach http://127.0.0.1:9" in capsys.readouterr().err


def test_create_and_list_projects(run, logged_in):
    status, out, _ = run("projects", "create", "Pets", "--labels", "cat, dog", "--overlap", "2")
    assert status == 0
    project = Project.objects.get(name="Pets")
    assert out.strip() == f"Created project {project.pk}: Pets"
    assert project.overlap == 2
    assert sorted(project.labels.values_list("name", flat=True)) == ["cat", "dog"]
    status, out, _ = run("projects", "list")
    assert f"{project.pk}  Pets  [cat, dog]  role: lead" in out


def test_a_bad_project_is_refused_with_the_servers_reason(run, logged_in):
    status, _, err = run("projects", "create", "Empty", "--labels", "")
    assert status == 1
    assert "label" in err.lower()
    assert not Project.objects.filter(name="Empty").exists()


def test_upload_sends_a_folder_in_batches_and_reports_bad_files(run, logged_in, tmp_path):
    """Every image arrives (recursively, several requests); a bad file is named, not fatal."""
    run("projects", "create", "Pets", "--labels", "cat,dog")
    project = Project.objects.get(name="Pets")
    folder = tmp_path / "photos"
    (folder / "deeper").mkdir(parents=True)
    for index in range(5):
        (folder / f"{index}.png").write_bytes(image_bytes(seed=index + 1))
    (folder / "deeper" / "5.jpg").write_bytes(image_bytes("JPEG", seed=99))
    (folder / "broken.jpg").write_bytes(b"not an image")
    status, out, _ = run("upload", str(project.pk), str(folder), "--batch-size", "2")
    assert status == 0
    assert "rejected  broken.jpg" in out
    assert f"Uploaded 7 files to project {project.pk}: 6 created, 0 duplicates, 1 rejected." in out
    assert Image.objects.filter(project=project).count() == 6


def test_upload_of_a_missing_folder_is_refused(run, logged_in, tmp_path):
    status, _, err = run("upload", "1", str(tmp_path / "nowhere"))
    assert status == 1
    assert "is not a folder" in err


def test_from_a_folder_of_images_to_a_split_imagefolder_zip(run, logged_in, tmp_path):
    """Log in, create, upload an ImageFolder tree with its labels, export a split zip."""
    tree = tmp_path / "pets"
    write_imagefolder(tree, {"cat": 10, "dog": 10})
    run("projects", "create", "Pets", "--labels", "cat,dog")
    project = Project.objects.get(name="Pets")

    status, out, _ = run("upload", str(project.pk), str(tree), "--labels-from", "folders")
    assert status == 0, out
    finals = FinalLabel.objects.filter(image__project=project)
    assert finals.count() == 20
    assert set(finals.values_list("method", flat=True)) == {FinalLabelMethod.IMPORTED}

    archive = tmp_path / "out" / "pets.zip"
    status, out, err = run(
        "export",
        str(project.pk),
        "--format",
        "imagefolder",
        "--split",
        "0.5,0.5",
        "-o",
        str(archive),
    )
    assert status == 0, err
    assert f"Saved {archive}" in out
    with zipfile.ZipFile(archive) as bundle:
        names = [name for name in bundle.namelist() if "-" in name.rsplit("/", 1)[-1]]
        bundle.extractall(tmp_path / "extracted")
    assert len(names) == 20
    for split in ("train", "val"):
        for label in ("cat", "dog"):
            assert sum(name.startswith(f"{split}/{label}/") for name in names) == 5
    torchvision = pytest.importorskip("torchvision")
    train = torchvision.datasets.ImageFolder(str(tmp_path / "extracted" / "train"))
    assert train.classes == ["cat", "dog"]
    assert sorted(train.targets) == [0] * 5 + [1] * 5


def test_export_failure_names_the_bad_option(run, logged_in, tmp_path):
    run("projects", "create", "Pets", "--labels", "cat,dog")
    project = Project.objects.get(name="Pets")
    output = tmp_path / "x.zip"
    status, _, err = run(
        "export", str(project.pk), "--format", "imagefolder", "--split", "2,3", "-o", str(output)
    )
    assert status == 1
    assert "split" in err
    assert not output.exists()


@pytest.mark.slow
def test_train_waits_for_the_run_and_names_the_new_version(run, logged_in, tmp_path):
    tree = tmp_path / "pets"
    write_imagefolder(tree, {"cat": 6, "dog": 6})
    run("projects", "create", "Pets", "--labels", "cat,dog")
    project = Project.objects.get(name="Pets")
    run("upload", str(project.pk), str(tree), "--labels-from", "folders")
    status, out, err = run("train", str(project.pk), "--wait", "--config", '{"epochs": 2}')
    assert status == 0, err
    assert "succeeded, model version" in out


def test_batches_hold_a_count_and_a_byte_budget(tmp_path):
    sizes = [10, 10, 50, 10, 10, 10]
    paths = []
    for index, size in enumerate(sizes):
        path = tmp_path / f"{index}.bin"
        path.write_bytes(b"x" * size)
        paths.append(path)
    batches = list(upload._batches(paths, size=3, max_bytes=40))
    assert [[p.name for p in batch] for batch in batches] == [
        ["0.bin", "1.bin"],
        ["2.bin"],
        ["3.bin", "4.bin", "5.bin"],
    ]


def test_a_streamed_form_is_as_long_as_it_says_and_names_files_as_requests_does(tmp_path):
    """The upload body is read from the files as it is sent: its Content-Length is the
    bytes it yields, and a file name with a quote or a line break is escaped as requests
    escapes it (and so stays one header)."""
    import requests

    photo = tmp_path / 'a "b"\nc é.png'
    photo.write_bytes(image_bytes(seed=1))
    body = client.MultipartBody(fields=[("labels", "cat;dog")], files=[("files", photo)])
    sent = b"".join(body)
    assert len(sent) == len(body)
    assert b'filename="a %22b%22%0Ac \xc3\xa9.png"' in sent
    with photo.open("rb") as handle:
        built = requests.Request(
            "POST", "http://x/", files=[("files", (photo.name, handle))], data={"labels": "x"}
        ).prepare()
    assert b'filename="a %22b%22%0Ac \xc3\xa9.png"' in built.body


def test_a_file_that_changes_while_sent_is_an_error(tmp_path):
    """A file that grows or shrinks between the length's sum and its read is refused, not
    sent with a Content-Length that lies."""
    for change in (b"more", b""):
        photo = tmp_path / "a.png"
        photo.write_bytes(b"x" * 100)
        body = client.MultipartBody(files=[("files", photo)])
        photo.write_bytes(b"x" * 100 + change if change else b"x" * 50)
        with pytest.raises(client.ClientError, match="changed while it was being sent"):
            b"".join(body)


def test_upload_sends_names_the_server_reads_back(run, logged_in, tmp_path):
    """Files are streamed to the server, which stores each under the name it was sent."""
    folder = tmp_path / "pets"
    folder.mkdir()
    names = ["plain.png", "été.png", "with space.png"]
    for seed, name in enumerate(names, start=1):
        (folder / name).write_bytes(image_bytes(seed=seed))
    assert run("projects", "create", "Pets", "--labels", "cat,dog")[0] == 0
    project = Project.objects.get(name="Pets")

    status, _, err = run("upload", str(project.pk), str(folder))

    assert status == 0, err
    assert sorted(Image.objects.values_list("original_name", flat=True)) == sorted(names)


def test_upload_labels_match_label_studio_s_renamed_uploads_and_list_what_none_took(tmp_path):
    root = tmp_path / "originals"
    root.mkdir()
    for name in ("holiday photo 4.png", "other.png"):
        (root / name).write_bytes(image_bytes())
    export = tmp_path / "export.json"
    tasks = [
        {
            "data": {"image": f"/data/upload/1/{name}"},
            "annotations": [{"result": [{"type": "choices", "value": {"choices": [label]}}]}],
        }
        for name, label in (("1a2b3c4d-holiday_photo_4.png", "cat"), ("5e6f7a8b-gone.png", "dog"))
    ]
    export.write_text(json.dumps(tasks))
    files = sorted(root.iterdir())

    plan = folder_labels(
        root,
        files,
        labels_from="csv",
        labels_file=str(write_csv(tmp_path, tasks)),
        labels_as="final",
    )
    assert plan.labels == {root / "holiday photo 4.png": ["cat"], root / "other.png": None}
    assert plan.no_labels == [("other.png", "No entry of the labels file names this file.")]
    assert plan.not_applied == [("5e6f7a8b-gone.png", folder_labels_module.UNMATCHED)]

    plan = folder_labels(
        root, files, labels_from="label-studio", labels_file=str(export), labels_as="final"
    )
    assert plan.per_person and plan.labels == dict.fromkeys(files)
    assert plan.not_applied == [("5e6f7a8b-gone.png", folder_labels_module.UNMATCHED)]
    assert plan.counts_in == {
        "files": 2,
        "records": 2,
        "annotations": 2,
        "decisions": 0,
        "labels": 2,
    }


def write_csv(folder: Path, tasks: list[dict]) -> Path:
    """The tasks' images and their first choice as a CSV of file and label."""
    path = folder / "labels.csv"
    rows = [
        f"{task['data']['image'].rsplit('/', 1)[1]},"
        f"{task['annotations'][0]['result'][0]['value']['choices'][0]}"
        for task in tasks
    ]
    path.write_text("file,label\n" + "\n".join(rows) + "\n")
    return path


PEOPLE_CSV = "file,mia@x.org,tom\na.png,cat,dog\nsub/b.png,dog,dog\nghost.png,cat,\n"


@pytest.fixture
def people_folder(run, logged_in, tmp_path) -> tuple[Project, Path, Path]:
    """A project with a member Mia (by e-mail), a folder of two images in two folders and
    a labels file with a column per annotator (Tom is no member; ghost.png is no file)."""
    run("projects", "create", "Pets", "--labels", "cat,dog")
    project = Project.objects.get(name="Pets")
    mia = UserFactory(username="mia", email="mia@x.org", email_verified=True)
    project.memberships.create(user=mia, role="annotator")
    folder = tmp_path / "photos"
    (folder / "sub").mkdir(parents=True)
    (folder / "a.png").write_bytes(image_bytes(seed=1))
    (folder / "sub" / "b.png").write_bytes(image_bytes(seed=2))
    labels = tmp_path / "people.csv"
    labels.write_text(PEOPLE_CSV)
    return project, folder, labels


def test_upload_with_a_file_naming_its_annotators_credits_each_and_reports_losses(
    run, people_folder, tmp_path
):
    """In batches of one, each with the labels file: Mia's labels go to Mia, Tom's to
    the member chosen; the counts are summed over the batches and every record not
    applied is printed, under --quiet too; --strict makes that exit status 3."""
    project, folder, labels = people_folder
    chosen = tmp_path / "annotators.json"
    chosen.write_text(json.dumps({"tom": "lena"}))  # the lead, who created the project
    args = ["upload", str(project.pk), str(folder), "--labels-from", "csv-annotators"]
    args += ["--labels-file", str(labels), "--annotators", str(chosen), "--batch-size", "1"]

    status, out, err = run(*args)

    assert status == 0, err
    credited = Annotation.objects.values_list("image__source_key", "annotator__username")
    assert sorted(credited) == [
        ("a.png", "lena"), ("a.png", "mia"), ("sub/b.png", "lena"), ("sub/b.png", "mia"),
    ]  # fmt: skip
    assert out.splitlines() == [
        "People: 2",
        "  mia@x.org -> mia (a member, by e-mail)",
        "  tom -> lena (chosen)",
        "In:  2 files; labels: 3 records, 5 annotations, 0 decisions, 5 labels",
        "Out: 2 images (2 new), 4 annotations (4 written), 0 decisions (0 written), 4 labels",
        "Not applied: 1",
        f"  ghost.png: {folder_labels_module.UNMATCHED}",
        f"Uploaded 2 files to project {project.pk}: 2 created, 0 duplicates, 0 rejected.",
    ]
    status, out, _ = run(*args, "--strict")
    assert status == 3
    assert "Out: 2 images (0 new), 4 annotations (0 written)" in out


def test_upload_dry_run_prints_who_is_who_and_what_would_not_apply(run, people_folder):
    project, folder, labels = people_folder
    args = ["upload", str(project.pk), str(folder), "--labels-from", "csv-annotators"]

    status, out, err = run(*args, "--labels-file", str(labels), "--dry-run")

    assert status == 0, err
    assert out.splitlines() == [
        "People: 2",
        "  mia@x.org -> mia (a member, by e-mail)",
        "  tom -> tom (a new inactive account)",
        "In:  2 files; labels: 3 records, 5 annotations, 0 decisions, 5 labels",
        "Not applied: 1",
        f"  ghost.png: {folder_labels_module.UNMATCHED}",
        "Dry run: nothing was sent.",
    ]
    assert not Image.objects.exists() and not User.objects.filter(username="tom").exists()
    bad = folder.parent / "bad.json"
    bad.write_text('{"tom": "nobody"}')
    status, _, err = run(*args, "--labels-file", str(labels), "--dry-run", "--annotators", str(bad))
    assert status == 1 and "No active member of this project is named 'nobody'" in err


def test_files_sharing_a_name_the_labels_give_once_get_none_in_any_batch(run, people_folder):
    """one/x.png and two/x.png, sent in different batches, are both refused the entry
    x.png (the server, seeing one at a time, could not tell)."""
    project, folder, _ = people_folder
    for sub, seed in (("one", 5), ("two", 6)):
        (folder / sub).mkdir()
        (folder / sub / "x.png").write_bytes(image_bytes(seed=seed))
    labels = folder.parent / "x.csv"
    labels.write_text("file,mia@x.org\nx.png,cat\n")
    args = ["upload", str(project.pk), str(folder), "--labels-from", "csv-annotators"]

    status, out, err = run(*args, "--labels-file", str(labels), "--batch-size", "1", "--strict")

    assert status == 3, err
    assert not Annotation.objects.exists() and Image.objects.count() == 4
    lines = out.splitlines()
    assert "Not applied: 3" in lines
    assert sum("Ambiguous file name 'x.png'" in line for line in lines) == 2
    assert f"  x.png: {folder_labels_module.UNMATCHED}" in lines


def test_annotators_are_refused_for_labels_that_name_no_one(run, people_folder, tmp_path):
    project, folder, _ = people_folder
    chosen = tmp_path / "annotators.json"
    chosen.write_text("{}")
    status, _, err = run(
        "upload", str(project.pk), str(folder), "--labels-from", "folders",
        "--annotators", str(chosen),
    )  # fmt: skip
    assert status == 1 and "--annotators is for a labels file that names its annotators" in err
    assert not Image.objects.exists()


def test_export_options_take_the_project_split_and_keep_image_formats():
    """--split project and --keep-image-formats become the REST options they stand for."""
    args = build_parser().parse_args(
        [
            "export",
            "3",
            "-f",
            "imagefolder",
            "--split",
            "project",
            "--keep-image-formats",
            "-o",
            "x",
        ]
    )
    assert _export_options(args) == {
        "format": "imagefolder",
        "split": "project",
        "convert_images": False,
    }
    plain = build_parser().parse_args(["export", "3", "-f", "imagefolder", "-o", "x"])
    assert "convert_images" not in _export_options(plain)
