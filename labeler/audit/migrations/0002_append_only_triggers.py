"""Database triggers that keep audit entries append-only.

The ORM refuses updates and deletes too (``models.AuditEntryQuerySet``); the triggers
refuse them from anything else that reaches the database (raw SQL, a shell, another
program), so an entry can only be changed by someone who can drop a trigger, and then
``audit_verify`` names it. The one exception is the retention purge
(``services.audit_purge``): it may delete the entries numbered up to the sequence it
names, inside its own transaction (PostgreSQL: ``set_config('labeler.audit_purge', n,
true)``, local to the transaction; SQLite: ``audit_auditchain.purge_through``, set and
cleared in the same transaction). PostgreSQL refuses TRUNCATE too unless the table is
already empty (the tests' flush, after they purge it).
"""

from django.db import migrations

POSTGRES = """
CREATE OR REPLACE FUNCTION audit_entry_guard() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'TRUNCATE' THEN
        IF EXISTS (SELECT 1 FROM audit_auditentry) THEN
            RAISE EXCEPTION 'audit entries are append-only (TRUNCATE refused)'
                USING ERRCODE = 'insufficient_privilege';
        END IF;
        RETURN NULL;
    END IF;
    IF TG_OP = 'DELETE' AND OLD.sequence <= COALESCE(
        NULLIF(current_setting('labeler.audit_purge', true), '')::bigint, 0
    ) THEN
        RETURN OLD;
    END IF;
    -- No percent sign here: the migration's statement goes through the driver's formatting.
    RAISE EXCEPTION USING
        MESSAGE = 'audit entries are append-only (' || TG_OP || ' refused)',
        ERRCODE = 'insufficient_privilege';
END
$$;
CREATE TRIGGER audit_entry_append_only BEFORE UPDATE OR DELETE ON audit_auditentry
    FOR EACH ROW EXECUTE FUNCTION audit_entry_guard();
CREATE TRIGGER audit_entry_no_truncate BEFORE TRUNCATE ON audit_auditentry
    FOR EACH STATEMENT EXECUTE FUNCTION audit_entry_guard();
"""

POSTGRES_REVERSE = """
DROP TRIGGER IF EXISTS audit_entry_no_truncate ON audit_auditentry;
DROP TRIGGER IF EXISTS audit_entry_append_only ON audit_auditentry;
DROP FUNCTION IF EXISTS audit_entry_guard();
"""

SQLITE = [
    """
    CREATE TRIGGER audit_entry_no_update BEFORE UPDATE ON audit_auditentry
    BEGIN
        SELECT RAISE(ABORT, 'audit entries are append-only (UPDATE refused)');
    END
    """,
    """
    CREATE TRIGGER audit_entry_no_delete BEFORE DELETE ON audit_auditentry
    WHEN OLD.sequence > COALESCE((SELECT purge_through FROM audit_auditchain WHERE id = 1), 0)
    BEGIN
        SELECT RAISE(ABORT, 'audit entries are append-only (DELETE refused)');
    END
    """,
]

SQLITE_REVERSE = [
    "DROP TRIGGER IF EXISTS audit_entry_no_update",
    "DROP TRIGGER IF EXISTS audit_entry_no_delete",
]


def forwards(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    if vendor == "postgresql":
        schema_editor.execute(POSTGRES)
    elif vendor == "sqlite":
        for statement in SQLITE:
            schema_editor.execute(statement)


def backwards(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    if vendor == "postgresql":
        schema_editor.execute(POSTGRES_REVERSE)
    elif vendor == "sqlite":
        for statement in SQLITE_REVERSE:
            schema_editor.execute(statement)


class Migration(migrations.Migration):
    dependencies = [("audit", "0001_initial")]

    operations = [migrations.RunPython(forwards, backwards)]
