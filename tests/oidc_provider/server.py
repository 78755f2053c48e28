"""Start the test provider as its own server process, and change its users while it runs."""

from __future__ import annotations

import contextlib
import os
import secrets
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import requests
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from bench.load_stack import free_port

ROOT = Path(__file__).resolve().parents[2]
# The header that carries the key a provider was started with, which its seed view asks for.
KEY_HEADER = "X-Seed-Key"


def rsa_private_pem() -> str:
    """A new 2048-bit RSA key, PEM (the provider's signing key, or another one)."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()


def public_pem(private_pem: str) -> str:
    key = serialization.load_pem_private_key(private_pem.encode(), password=None)
    return (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )


@dataclass
class Provider:
    """A running provider: its issuer address and how to change its data."""

    url: str
    env: dict[str, str]

    @property
    def issuer(self) -> str:
        return f"{self.url}/o"

    def seed(self, **data: object) -> None:
        """Add or change the client and users (see tests.oidc_provider.seed)."""
        answer = requests.post(
            f"{self.url}/test-seed/",
            json=data,
            headers={KEY_HEADER: self.env["OIDC_PROVIDER_SEED_KEY"]},
            timeout=30,
        )
        answer.raise_for_status()


@contextlib.contextmanager
def provider_running(folder: Path) -> Iterator[Provider]:
    """Migrate a fresh database and serve the provider on a free port until the end."""
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "tests.oidc_provider.settings",
        "OIDC_PROVIDER_DB": str(folder / "provider.sqlite3"),
        "OIDC_PROVIDER_RSA_KEY": rsa_private_pem(),
        "OIDC_PROVIDER_SEED_KEY": secrets.token_urlsafe(32),
        "PYTHONPATH": str(ROOT),
    }
    django = [sys.executable, "-m", "django"]
    subprocess.run([*django, "migrate", "-v0"], cwd=ROOT, env=env, check=True)
    port = free_port()
    log = (folder / "provider.log").open("w")
    server = subprocess.Popen(
        [*django, "runserver", f"127.0.0.1:{port}", "--noreload"],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    provider = Provider(url=f"http://127.0.0.1:{port}", env=env)
    try:
        _wait_until_up(f"{provider.issuer}/.well-known/openid-configuration", server)
        yield provider
    finally:
        server.terminate()
        server.wait(timeout=10)
        log.close()


def _wait_until_up(url: str, server: subprocess.Popen) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise RuntimeError(f"the test provider exited ({server.returncode})")
        with contextlib.suppress(requests.RequestException):
            if requests.get(url, timeout=1).status_code == 200:
                return
        time.sleep(0.2)
    raise RuntimeError("the test provider did not start in 30 s")
