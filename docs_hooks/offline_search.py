"""The site's search from disk: the worker shim the offline plugin needs, from node_modules.

Material's offline plugin makes search work over ``file://`` by running its worker in an
iframe (the ``iframe-worker`` package's shim), which it would load from unpkg.com: a
reader offline, or on a machine with no route out, would get no search. mkdocs.yml names
the shim's place in the site instead (``extra.polyfills``), and this hook puts the
installed package's file there (``make setup`` installs it with the front-end packages).
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

SHIM = Path(__file__).resolve().parents[1] / "node_modules" / "iframe-worker" / "shim" / "index.js"
IN_SITE = "assets/javascripts/iframe-worker-shim.js"  # as mkdocs.yml's extra.polyfills names it


def on_config(config: Any) -> Any:
    if not SHIM.is_file():
        raise FileNotFoundError(f"{SHIM} is missing: run make setup (npm installs iframe-worker)")
    if IN_SITE not in config.extra.get("polyfills", []):
        raise ValueError(f"mkdocs.yml's extra.polyfills must name {IN_SITE}")
    return config


def on_post_build(config: Any) -> None:
    target = Path(config.site_dir) / IN_SITE
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(SHIM, target)
