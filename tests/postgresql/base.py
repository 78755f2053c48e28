"""The tests' PostgreSQL backend: Django's, with a flush that deletes rows instead of
truncating tables.

A transactional or live-server test ends in a flush of every table. Django's is one
TRUNCATE of all of them, which gives each table and index a new file on disk: 0.6 s for
this project's 62 tables on the 2-core CI machine, for tables that hold a few rows.
DELETE in one transaction takes a few milliseconds. It runs with
``session_replication_role`` set to ``replica`` for that transaction, so that neither
the foreign keys' checks nor the project's own triggers (the image counters, the audit
trail's guard) run on rows that are all going; only a superuser may set it, so as any
other role the flush stays Django's TRUNCATE. Sequences go on counting, as they do after
Django's flush without ``reset_sequences``. Production never uses this backend: only
``tests/settings.py`` names it.
"""

from __future__ import annotations

from django.db.backends.postgresql import base, operations

# What migrate's post_migrate handlers write and every flush's post_migrate writes again
# as it was: kept, those handlers find it there instead of inserting it again (0.15 s).
# No test writes either table; links to them from users and groups are deleted.
KEPT = frozenset({"django_content_type", "auth_permission"})


class DatabaseOperations(operations.DatabaseOperations):
    def sql_flush(self, style, tables, *, reset_sequences=False, allow_cascade=False):
        # Inside a transaction of the caller's, SET LOCAL would outlast the flush.
        if (
            not tables
            or reset_sequences
            or self.connection.in_atomic_block
            or not self.connection.is_superuser()
        ):
            return super().sql_flush(
                style, tables, reset_sequences=reset_sequences, allow_cascade=allow_cascade
            )
        deleted = [self.quote_name(table) for table in tables if table not in KEPT]
        # execute_sql_flush runs these in one transaction: SET LOCAL ends with it. The lock
        # waits, as TRUNCATE's does, for a live server's transaction still writing, and keeps
        # any new write out until the rows are gone.
        return [
            "SET LOCAL session_replication_role = replica",
            f"LOCK TABLE {', '.join(deleted)} IN SHARE ROW EXCLUSIVE MODE",
            *(f"DELETE FROM {table}" for table in deleted),
        ]


class DatabaseWrapper(base.DatabaseWrapper):
    ops_class = DatabaseOperations

    _superuser: bool | None = None

    def is_superuser(self) -> bool:
        """Whether this connection's role may set session_replication_role (asked once)."""
        if self._superuser is None:
            with self.cursor() as cursor:
                cursor.execute("SELECT current_setting('is_superuser') = 'on'")
                self._superuser = bool(cursor.fetchone()[0])
        return self._superuser
