"""A GIN index on Contact.facets, PostgreSQL only.

The tag/staff/department/channel filters are key lookups on facets (``?``, ``?&``, ``?|``); the
default jsonb_ops GIN index answers them by intersecting posting lists. SQLite (the embedded
default) has no such index type and scans instead, which is fine at its scale. It is created here
rather than as a model index so the same models migrate on both databases.
"""

from django.db import migrations

INDEX = "contact_facets_gin"


def create(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(f"CREATE INDEX IF NOT EXISTS {INDEX} ON contacts_contact USING gin (facets)")


def drop(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(f"DROP INDEX IF EXISTS {INDEX}")


class Migration(migrations.Migration):
    dependencies = [("contacts", "0001_initial")]

    operations = [migrations.RunPython(create, drop)]
