"""Configuration comes from the environment, with safe embedded defaults."""

from __future__ import annotations

import ast
import json
import os
import re
import subprocess
import sys
from collections.abc import Collection
from pathlib import Path

import pytest

from tests.ast_parse import ast_parse

# Every setting is read in a process of its own, with the environment each test gives it:
# the same in both passes, so not marked embedded.

ROOT = Path(__file__).resolve().parents[2]
PRODUCTION = {
    "DEBUG": "0",
    "SECRET_KEY": "p" * 20 + "r0duct10n-k3y-w1th-enough-ch4racters-and-v4r1ety!",
    "ALLOWED_HOSTS": "labeler.example.com",
}


def run(
    args: list[str], env: dict[str, str], cwd: Path = ROOT, drop: Collection[str] = ()
) -> subprocess.CompletedProcess:
    ours = ("DATABASE_URL", "REDIS_URL", "CELERY_BROKER_URL", "DEBUG", "SECRET_KEY", *drop)
    ours += ("DJANGO_ALLOW_ASYNC_UNSAFE",)  # set by the browser tests for their own process
    clean = {k: v for k, v in os.environ.items() if k not in ours}
    clean["DJANGO_SETTINGS_MODULE"] = "labeler.settings"
    return subprocess.run(
        [sys.executable, *args], env={**clean, **env}, cwd=cwd, capture_output=True, text=True
    )


def settings_in(env: dict[str, str]) -> dict:
    code = (
        "import json; from labeler import settings as s;"
        "print(json.dumps({'db': s.DATABASES['default'], 'eager': s.CELERY_TASK_ALWAYS_EAGER,"
        "'broker': s.CELERY_BROKER_URL, 'storage': s.STORAGES['default']['BACKEND'],"
        "'media': str(s.MEDIA_ROOT), 'max_image': s.LABELER_MAX_IMAGE_BYTES}, default=str))"
    )
    done = run(["-c", code], env)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def test_defaults_are_embedded_sqlite_and_in_process_tasks(tmp_path):
    """No DATABASE_URL: a SQLite file under var/; no broker: tasks run in-process."""
    values = settings_in({"DEBUG": "1", "LABELER_VAR_DIR": str(tmp_path)})
    assert values["db"]["ENGINE"] == "django.db.backends.sqlite3"
    assert values["db"]["NAME"] == str(tmp_path / "labeler.sqlite3")
    assert values["eager"] is True


def test_database_and_broker_urls_are_honoured():
    """DATABASE_URL selects PostgreSQL; REDIS_URL (or CELERY_BROKER_URL) turns workers on."""
    values = settings_in(
        {
            "DEBUG": "1",
            "DATABASE_URL": "postgres://bob:pw@db.internal:6543/labels",
            "REDIS_URL": "redis://cache:6379/1",
            "FILE_STORAGE": "s3",
            "MEDIA_ROOT": "/srv/media",
            "LABELER_MAX_IMAGE_BYTES": "1234",
        }
    )
    db = values["db"]
    assert (db["ENGINE"], db["HOST"], db["PORT"], db["NAME"], db["USER"]) == (
        "django.db.backends.postgresql", "db.internal", 6543, "labels", "bob"
    )  # fmt: skip
    assert values["eager"] is False
    assert values["broker"] == "redis://cache:6379/1"
    assert values["storage"] == "storages.backends.s3.S3Storage"
    assert values["media"] == "/srv/media"
    assert values["max_image"] == 1234


def test_secret_key_is_required_when_debug_is_off():
    """Production without SECRET_KEY refuses to start, saying what to set."""
    done = run(["-c", "import labeler.settings"], {"DEBUG": "0"})
    assert done.returncode != 0
    assert "SECRET_KEY must be set" in done.stderr


def secret_key_in(var_dir: Path) -> str:
    done = run(
        ["-c", "from labeler import settings; print(settings.SECRET_KEY)"],
        {"DEBUG": "1", "LABELER_VAR_DIR": str(var_dir)},
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


def test_each_local_install_signs_with_a_key_of_its_own(tmp_path):
    """Without SECRET_KEY, development reads its key from var/, made there on first start:
    two installs differ (no key shared through the repository), restarts keep theirs."""
    first, second = tmp_path / "one", tmp_path / "two"
    key = secret_key_in(first)

    assert key == (first / "secret_key").read_text().strip()
    assert secret_key_in(first) == key
    assert secret_key_in(second) != key
    assert not any(key in path.read_text() for path in (ROOT / "labeler").glob("*.py"))


def test_the_settings_hold_no_fixed_secret_key():
    """Every SECRET_KEY the settings can set comes from the environment or var/."""
    tree = ast_parse((ROOT / "labeler" / "settings.py").read_text())
    values = [
        ast.unparse(node.value)
        for node in ast.walk(tree)
        if isinstance(node, ast.Assign)
        for target in node.targets
        if isinstance(target, ast.Name) and target.id == "SECRET_KEY"
    ]
    assert values == [
        "os.environ.get('SECRET_KEY', '')",
        "local_secret_key(VAR_DIR / 'secret_key')",
    ]


def test_malformed_number_is_reported():
    done = run(["-c", "import labeler.settings"], {"DEBUG": "1", "LABELER_LEASE_SECONDS": "ten"})
    assert "LABELER_LEASE_SECONDS must be an integer" in done.stderr


def test_a_file_address_lifetime_under_a_minute_is_refused():
    """Addresses repeat for half their life: under a minute, browsers' caches would miss."""
    done = run(["-c", "import labeler.settings"], {"DEBUG": "1", "LABELER_FILE_LINK_SECONDS": "10"})
    assert "LABELER_FILE_LINK_SECONDS must be 60 or more, got 10" in done.stderr


@pytest.mark.slow
def test_check_deploy_is_clean_with_production_settings(tmp_path):
    """`manage.py check --deploy` reports nothing with production settings."""
    env = {**PRODUCTION, "DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}"}
    done = run(["manage.py", "check", "--deploy", "--fail-level", "WARNING"], env)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "no issues" in done.stdout


@pytest.mark.slow
def test_createsuperuser_noinput_reads_the_environment(tmp_path):
    """The standard `createsuperuser --noinput` with DJANGO_SUPERUSER_* works."""
    env = {
        "DEBUG": "1",
        "DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}",
        "DJANGO_SUPERUSER_USERNAME": "root",
        "DJANGO_SUPERUSER_EMAIL": "root@example.com",
        "DJANGO_SUPERUSER_PASSWORD": "a-long-admin-password",
    }
    assert run(["manage.py", "migrate", "-v0"], env).returncode == 0
    done = run(["manage.py", "createsuperuser", "--noinput"], env)
    assert done.returncode == 0, done.stderr
    check = run(
        [
            "manage.py",
            "shell",
            "-c",
            "from django.contrib.auth import authenticate as a;"
            "u = a(username='root', password='a-long-admin-password'); print(u.is_superuser)",
        ],
        env,
    )
    assert check.stdout.strip().splitlines()[-1] == "True", check.stderr


def _env_example_names() -> set[str]:
    """Every variable .env.example sets or shows commented out."""
    text = (ROOT / ".env.example").read_text()
    return set(re.findall(r"^#? ?([A-Z][A-Z0-9_]*)=", text, flags=re.MULTILINE))


def test_every_variable_of_the_env_example_reaches_the_containers():
    """A variable .env.example offers is passed on by docker-compose.yml: otherwise setting
    it in .env would silently change nothing."""
    compose = (ROOT / "docker-compose.yml").read_text()
    names = _env_example_names()
    assert len(names) > 20
    missing = sorted(name for name in names if not re.search(rf"\$\{{{name}[:}}]", compose))
    assert missing == []
    # The web processes share one cache (sessions, login throttling), not one each.
    assert re.search(r"^  REDIS_URL: redis://redis:", compose, flags=re.MULTILINE)


def test_variables_left_empty_keep_the_defaults():
    """docker-compose passes a variable unset in .env as "": every setting then keeps the
    value it has when the variable is absent."""
    code = (
        "import json; from labeler import settings as s;"
        "print(json.dumps({n: getattr(s, n) for n in dir(s) if n.isupper()}, default=str))"
    )
    base = {"DEBUG": "1", "SECRET_KEY": "x" * 50}
    names = _env_example_names() - set(base)
    empty = dict.fromkeys(names, "")
    absent, blank = (run(["-c", code], {**base, **extra}, drop=names) for extra in ({}, empty))
    assert absent.returncode == 0 and blank.returncode == 0, absent.stderr + blank.stderr
    assert json.loads(blank.stdout) == json.loads(absent.stdout)


@pytest.mark.parametrize(
    ("entry", "given", "expected"),
    [("labeler.wsgi", None, "False"), ("worker.celery_app", None, "False"),
     ("labeler.wsgi", "1", "True")],
)  # fmt: skip
def test_numpy_huge_page_hint_is_off_in_the_servers_processes_unless_asked_for(
    entry, given, expected
):
    """The web server's and the workers' processes load numpy without its huge-page hint
    (a cost on reports that make and drop large arrays); NUMPY_MADVISE_HUGEPAGE=1 keeps it."""
    code = f"import {entry}, numpy; print(numpy._core.multiarray._get_madvise_hugepage())"
    env = {"DEBUG": "1"} if given is None else {"DEBUG": "1", "NUMPY_MADVISE_HUGEPAGE": given}
    done = run(["-c", code], env, drop=("NUMPY_MADVISE_HUGEPAGE",))
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == expected, done.stdout
