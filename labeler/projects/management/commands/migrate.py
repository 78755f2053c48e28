"""Django's ``migrate``, one process at a time on PostgreSQL.

Every web replica of the compose stack migrates as it starts, and replicas start
together (``docker-compose up --scale web=2``): two ``migrate`` runs side by side each
create the same tables, and the second fails ("relation ... already exists"), its
replica restarting. Here each run first takes a session-level advisory lock on the
database, so the second waits for the first and then finds nothing left to do. SQLite,
the embedded default, serves one process and locks its file anyway.
"""

from __future__ import annotations

from typing import Any

from django.core.management.commands.migrate import Command as DjangoMigrate
from django.db import connections

# The advisory lock's key, shared by every labeler process on a database ("migr").
MIGRATE_LOCK = 0x6D696772


class Command(DjangoMigrate):
    help = DjangoMigrate.help + " One run at a time on PostgreSQL (an advisory lock)."

    def handle(self, *args: Any, **options: Any) -> None:
        connection = connections[options["database"]]
        if connection.vendor != "postgresql":
            super().handle(*args, **options)
            return
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_lock(%s)", [MIGRATE_LOCK])
        try:
            super().handle(*args, **options)
        finally:
            # Migrations may have closed the connection, which released the lock already.
            if connection.connection is not None:
                with connection.cursor() as cursor:
                    cursor.execute("SELECT pg_advisory_unlock(%s)", [MIGRATE_LOCK])
