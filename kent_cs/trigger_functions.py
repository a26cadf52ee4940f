"""The two helper functions every audit and guard trigger calls, without subtransactions.

pgtrigger's triggers first ask `_pgtrigger_should_ignore(name)` whether the trigger is
switched off for the transaction (`pgtrigger.ignore`), and pghistory's event triggers
call `_pgh_attach_context()` for the context an event links to. The libraries read their
settings inside a BEGIN ... EXCEPTION block, which PostgreSQL runs as a subtransaction:
on a receipt, whose rows fire sixteen such calls, that was a quarter of the writing
statement's time. These versions read the settings with `current_setting(name, true)`
(NULL when never set, and an empty string once a transaction that set them ended), and
write a context row once per transaction and metadata instead of once per event (the
`pghistory.context_written` setting, local to the transaction, and rolled back with a
savepoint like the row it stands for). They behave as the libraries' own do.

The libraries install theirs in migrations (pgtrigger with each trigger, pghistory after
migrating too); `install()` runs after every migrate (kent_cs.apps) and puts these back.
"""

from django.db import connections

SHOULD_IGNORE = """
CREATE OR REPLACE FUNCTION public._pgtrigger_should_ignore(trigger_name name)
RETURNS boolean LANGUAGE plpgsql AS $$
DECLARE
    _ignore text := current_setting('pgtrigger.ignore', true);
BEGIN
    IF _ignore IS NULL OR _ignore = '' THEN
        RETURN FALSE;
    END IF;
    RETURN trigger_name = ANY(_ignore::text[]);
END;
$$
"""

ATTACH_CONTEXT = """
CREATE OR REPLACE FUNCTION public._pgh_attach_context()
RETURNS uuid LANGUAGE plpgsql AS $$
DECLARE
    _id text := current_setting('pghistory.context_id', true);
    _metadata text := current_setting('pghistory.context_metadata', true);
BEGIN
    IF _id IS NULL OR _id = '' OR _metadata IS NULL OR _metadata = '' THEN
        RETURN NULL;
    END IF;
    IF current_setting('pghistory.context_written', true) IS DISTINCT FROM _id || _metadata
    THEN
        INSERT INTO pghistory_context (id, metadata, created_at, updated_at)
            VALUES (_id::uuid, _metadata::jsonb, NOW(), NOW())
            ON CONFLICT (id) DO UPDATE
                SET metadata = EXCLUDED.metadata, updated_at = EXCLUDED.updated_at
                WHERE pghistory_context.metadata != EXCLUDED.metadata;
        PERFORM set_config('pghistory.context_written', _id || _metadata, true);
    END IF;
    RETURN _id::uuid;
END;
$$
"""


def install(using: str = "default", **kwargs) -> None:
    """Create or replace both functions (a post_migrate receiver)."""
    with connections[using].cursor() as cursor:
        cursor.execute(SHOULD_IGNORE)
        cursor.execute(ATTACH_CONTEXT)
