"""Make audit_auditevent append-only under PostgreSQL (S12): a trigger refuses
UPDATE and DELETE for every database user, the application's included."""

from django.db import migrations

IMMUTABLE_SQL = """
CREATE OR REPLACE FUNCTION forge_audit_immutable() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'audit_auditevent is append-only: % refused', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END;
$$ LANGUAGE plpgsql;
DROP TRIGGER IF EXISTS audit_auditevent_immutable ON audit_auditevent;
CREATE TRIGGER audit_auditevent_immutable
    BEFORE UPDATE OR DELETE ON audit_auditevent
    FOR EACH ROW EXECUTE FUNCTION forge_audit_immutable();
"""
DROP_SQL = """
DROP TRIGGER IF EXISTS audit_auditevent_immutable ON audit_auditevent;
DROP FUNCTION IF EXISTS forge_audit_immutable();
"""


def install_trigger(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(IMMUTABLE_SQL, params=None)


def remove_trigger(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(DROP_SQL, params=None)


class Migration(migrations.Migration):
    dependencies = [("audit", "0001_initial")]

    operations = [migrations.RunPython(install_trigger, remove_trigger)]
