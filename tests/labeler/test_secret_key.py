"""A local install's signing key: random, its own, kept under var/ for its restarts."""

from __future__ import annotations

import stat
import threading

import pytest
from django.core.exceptions import ImproperlyConfigured

from labeler.secret_key import local_secret_key


def test_the_key_is_made_once_then_read_back(tmp_path):
    """The first call writes a random key readable by its owner only; later calls read it."""
    path = tmp_path / "var" / "secret_key"
    key = local_secret_key(path)

    assert len(key) >= 50
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert local_secret_key(path) == key
    assert [p.name for p in path.parent.iterdir()] == ["secret_key"]  # no temporary left


def test_two_installs_get_different_keys(tmp_path):
    assert local_secret_key(tmp_path / "a" / "secret_key") != local_secret_key(
        tmp_path / "b" / "secret_key"
    )


def test_processes_starting_at_once_share_one_key(tmp_path):
    """Whoever writes first wins; nobody reads a half-written file or another key."""
    path = tmp_path / "secret_key"
    keys: list[str] = []
    start = threading.Barrier(8)

    def read() -> None:
        start.wait()
        keys.append(local_secret_key(path))

    threads = [threading.Thread(target=read) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(keys) == 8 and set(keys) == {path.read_text().strip()}


def test_an_emptied_key_file_is_reported(tmp_path):
    path = tmp_path / "secret_key"
    path.write_text("\n")
    with pytest.raises(ImproperlyConfigured, match="delete it"):
        local_secret_key(path)
