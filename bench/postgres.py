"""The PostgreSQL database a benchmark runs on: created when missing, migrated, set up."""

from __future__ import annotations

import os
from urllib.parse import urlsplit, urlunsplit

import django
import psycopg2
from django.core.management import call_command

PRODUCTION_SETTINGS = {
    "DEBUG": "0",
    "SECRET_KEY": "benchmark-" + "k" * 50,
    "ALLOWED_HOSTS": "127.0.0.1,localhost",
    "SECURE_SSL_REDIRECT": "0",
    "SESSION_COOKIE_SECURE": "0",
    "CSRF_COOKIE_SECURE": "0",
}


def postgres_configure(database_url: str, *, migrate: bool = True) -> None:
    """Point Django at the URL's database; with ``migrate``, create it if missing and migrate."""
    if not database_url.startswith(("postgres://", "postgresql://")):
        raise SystemExit(f"The benchmark needs PostgreSQL, not {database_url!r}.")
    os.environ["DATABASE_URL"] = database_url
    # Production's settings, as the product runs (DEBUG on would log every statement: an
    # import of 1,000 images took 5 to 15 % longer so); plain HTTP where a server is started.
    for name, value in PRODUCTION_SETTINGS.items():
        os.environ.setdefault(name, value)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "labeler.settings")
    if migrate:
        _create_database(database_url)
    django.setup()
    if migrate:
        call_command("migrate", verbosity=0)


def _create_database(database_url: str) -> None:
    """CREATE DATABASE for the URL's database unless it exists (via the server's postgres db)."""
    parts = urlsplit(database_url)
    name = parts.path.lstrip("/")
    connection = psycopg2.connect(urlunsplit(parts._replace(path="/postgres")))
    connection.autocommit = True
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name])
            if cursor.fetchone() is None:
                cursor.execute(f'CREATE DATABASE "{name}"')
    finally:
        connection.close()
