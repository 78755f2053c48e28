"""The PostgreSQL database a benchmark runs on: created when missing, migrated, set up."""

from __future__ import annotations

import os
from urllib.parse import urlsplit, urlunsplit

import django
import psycopg2
from django.core.management import call_command


def postgres_configure(database_url: str, *, migrate: bool = True) -> None:
    """Point Django at the URL's database; with ``migrate``, create it if missing and migrate."""
    if not database_url.startswith(("postgres://", "postgresql://")):
        raise SystemExit(f"The benchmark needs PostgreSQL, not {database_url!r}.")
    os.environ["DATABASE_URL"] = database_url
    os.environ.setdefault("DEBUG", "1")
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
