"""MkDocs hook: the project settings reference page, written from the settings'
declarations at build time.

``manage.py settings_reference`` prints the reference of every declared project setting
(``labeler/projects/settings_reference.py``); this hook adds its output as
``settings.md``. The page is not kept in the repository, so a new setting needs no edit
of the docs and the reference cannot fall behind the declarations.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from mkdocs.config.defaults import MkDocsConfig
from mkdocs.structure.files import File, Files

ROOT = Path(__file__).resolve().parent.parent
PAGE = "settings.md"


def on_files(files: Files, config: MkDocsConfig) -> Files:
    files.append(File.generated(config, PAGE, content=settings_reference()))
    return files


def settings_reference() -> str:
    """The reference as ``manage.py settings_reference`` prints it."""
    printed = subprocess.run(
        [sys.executable, "manage.py", "settings_reference"],
        cwd=ROOT,
        env={**os.environ, "DEBUG": "1"},
        check=False,
        capture_output=True,
        text=True,
    )
    if printed.returncode != 0:
        raise RuntimeError(f"manage.py settings_reference failed:\n{printed.stderr}")
    return printed.stdout
