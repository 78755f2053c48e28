"""The `labeler` command-line client, run against the live test server over HTTP."""

from __future__ import annotations

import argparse
import json
import stat
import zipfile
from pathlib import Path

import pytest
from django.contrib.auth.models import Permission

from labeler import client
from labeler.annotations.models import FinalLabel, FinalLabelMethod
from labeler.client import upload
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
        names = bundle.namelist()
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


def test_upload_labels_match_label_studio_s_renamed_uploads_and_list_what_none_took(
    tmp_path, capsys
):
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
    args = argparse.Namespace(labels_from="label-studio", labels_file=str(export), quiet=False)
    files = sorted(root.iterdir())

    labels = upload._labels_for(root, files, args)

    assert labels == {root / "holiday photo 4.png": ["cat"], root / "other.png": []}
    printed = capsys.readouterr().out.splitlines()
    assert printed == [
        "no labels other.png: No entry of the labels file names this file.",
        "not applied '5e6f7a8b-gone.png': no file of the folder matched this labels entry.",
    ]
