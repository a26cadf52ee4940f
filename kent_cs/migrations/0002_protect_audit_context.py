"""Keep the audit trail's contexts (who, from where, why) from being deleted.

Event tables are append-only, but the event rows only point at their context by id,
without a foreign key: deleting a pghistory_context row would silently erase who made
a change and why. pghistory never deletes contexts, and only ever updates a context's
metadata (it adds keys, such as a reason, while the request that opened it goes on), so:
DELETE is refused, and an UPDATE may change nothing but the metadata and updated_at.
"""

from django.db import migrations

CREATE = """
CREATE FUNCTION kent_cs_protect_audit_context() RETURNS trigger AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        RAISE EXCEPTION 'audit contexts cannot be deleted'
            USING ERRCODE = 'check_violation';
    END IF;
    IF NEW.id IS DISTINCT FROM OLD.id OR NEW.created_at IS DISTINCT FROM OLD.created_at THEN
        RAISE EXCEPTION 'an audit context keeps its id and creation time'
            USING ERRCODE = 'check_violation';
    END IF;
    RETURN NEW;
END;
$$ LANGUAGE plpgsql;

CREATE TRIGGER kent_cs_protect_audit_context
    BEFORE UPDATE OR DELETE ON pghistory_context
    FOR EACH ROW EXECUTE FUNCTION kent_cs_protect_audit_context();
"""

DROP = """
DROP TRIGGER IF EXISTS kent_cs_protect_audit_context ON pghistory_context;
DROP FUNCTION IF EXISTS kent_cs_protect_audit_context();
"""


class Migration(migrations.Migration):
    dependencies = [
        ("kent_cs", "0001_initial"),
        ("pghistory", "0007_auto_20250421_0444"),
    ]

    operations = [migrations.RunSQL(CREATE, DROP)]
