"""A trigram index for the data browser's file-name filter, on PostgreSQL.

``name=`` is a case-insensitive substring match (Django's ``icontains``: ``UPPER(name)
LIKE UPPER('%text%')``), which no b-tree serves: a name few images match scanned the
whole table (0.2 s at a million images). A GIN trigram index on the same expression
answers it in under 10 ms. It needs the ``pg_trgm`` extension (trusted since PostgreSQL
13: a database owner may create it); where it cannot be created the index is left out
and the filter scans as before. SQLite has no such index.
"""

from django.db import migrations, transaction
from django.db.utils import DatabaseError

INDEX = "image_name_trigram_idx"


def create(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    try:
        with transaction.atomic(using=schema_editor.connection.alias):
            schema_editor.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    except DatabaseError as exc:
        print(f"\n  pg_trgm not available ({exc}): the file-name filter goes without its index")
        return
    schema_editor.execute(
        f"CREATE INDEX IF NOT EXISTS {INDEX} ON images_image "
        "USING gin (UPPER(original_name::text) gin_trgm_ops)"
    )


def drop(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(f"DROP INDEX IF EXISTS {INDEX}")


class Migration(migrations.Migration):
    dependencies = [("images", "0008_counts_update_per_statement")]

    operations = [migrations.RunPython(create, drop)]
