"""The audit chain in the database: the functions and triggers that hash every audit event
and every journal entry and line as it is committed, and the backfill of rows that were
there before.

Each chained table has one chain, named after the table. A row's link holds its place
(`seq`), its primary key, and `digest = sha256(previous digest || content)`, where content
is the row as `jsonb_strip_nulls(to_jsonb(row))::text` (a canonical text: jsonb sorts its
keys; nulls are left out so that adding a nullable column later leaves old digests true;
timestamps are written in UTC whatever the session's time zone). The first link's
previous digest is empty.

The link is written by a DEFERRABLE INITIALLY DEFERRED constraint trigger, so it is taken
at commit: the chain-head rows are locked only between the commit's start and its end,
never while the posting transaction does its work. Every chaining commit first takes one
transaction-level advisory lock, so heads are always locked in the same order and two
commits never deadlock on them, and every chain grows one link at a time.
"""

from django.db import connection

# Taken by each commit that writes links; held to its end.
CHAIN_LOCK_KEY = 7_310_418_218

# Tables chained besides every pghistory event table (those hold a `pgh_id` column):
# the sign-in log and the ledger's journal. (table, primary key column)
# Each with the key column `id` (the trigger reads NEW.id, or NEW.pgh_id on event tables).
EXTRA_TABLES = (
    ("kent_cs_authevent", "id"),
    ("ledger_journalentry", "id"),
    ("ledger_journalline", "id"),
)

TRIGGER_NAME = "audit_chain_link"

# The row's text output with trailing empty (NULL) fields dropped: a column added later as
# nullable leaves old rows' content as it was. Output of dates and numbers depends on
# these settings, so every function that hashes pins them, and verification sets them.
CONTENT_SQL = "rtrim(({row})::text, ',)')"
OUTPUT_SETTINGS = (
    ("timezone", "UTC"),
    ("datestyle", "ISO, MDY"),
    ("intervalstyle", "postgres"),
    ("extra_float_digits", "1"),
    ("bytea_output", "hex"),
)
FUNCTION_SETTINGS = " ".join(f"SET {name} TO '{value}'" for name, value in OUTPUT_SETTINGS)

# The content expression inside a quoted literal (the backfill's dynamic query).
QUOTED_CONTENT = CONTENT_SQL.format(row="t").replace("'", "''")

LINK_FUNCTION = f"""
CREATE OR REPLACE FUNCTION audit_chain_link() RETURNS trigger
LANGUAGE plpgsql {FUNCTION_SETTINGS} AS $$
DECLARE
    _content text := {CONTENT_SQL.format(row="NEW")};
    _row_id bigint;
    _seq bigint;
    _digest bytea;
BEGIN
    -- Each branch is compiled when first taken, so NEW.pgh_id is never read on a table
    -- without it.
    IF TG_ARGV[0] = 'pgh_id' THEN
        _row_id := NEW.pgh_id;
    ELSE
        _row_id := NEW.id;
    END IF;
    PERFORM pg_advisory_xact_lock({CHAIN_LOCK_KEY});
    UPDATE audit_chainhead
        SET seq = seq + 1, digest = sha256(digest || convert_to(_content, 'UTF8'))
        WHERE chain = TG_TABLE_NAME
        RETURNING seq, digest INTO _seq, _digest;
    IF NOT FOUND THEN
        _seq := 1;
        _digest := sha256(convert_to(_content, 'UTF8'));
        INSERT INTO audit_chainhead (chain, seq, digest) VALUES (TG_TABLE_NAME, _seq, _digest);
    END IF;
    INSERT INTO audit_chainlink (chain, seq, row_id, digest, linked_at)
        VALUES (TG_TABLE_NAME, _seq, _row_id, _digest, now());
    RETURN NULL;
END;
$$
"""

# Links the rows of a table that has no chain yet, in primary-key order (the order they
# were written in). Run where the chain starts: by the migration, and for a table that
# becomes chained later, by install().
BACKFILL_FUNCTION = f"""
CREATE OR REPLACE FUNCTION audit_chain_backfill(_table text, _pk text) RETURNS bigint
LANGUAGE plpgsql {FUNCTION_SETTINGS} AS $$
DECLARE
    _row record;
    _seq bigint := 0;
    _digest bytea := ''::bytea;
BEGIN
    PERFORM pg_advisory_xact_lock({CHAIN_LOCK_KEY});
    IF EXISTS (SELECT 1 FROM audit_chainhead WHERE chain = _table) THEN
        RETURN 0;
    END IF;
    FOR _row IN EXECUTE format(
        'SELECT (t.%I)::bigint AS row_id, {QUOTED_CONTENT} AS content
         FROM %I t ORDER BY t.%I', _pk, _table, _pk)
    LOOP
        _seq := _seq + 1;
        _digest := sha256(_digest || convert_to(_row.content, 'UTF8'));
        INSERT INTO audit_chainlink (chain, seq, row_id, digest, linked_at)
            VALUES (_table, _seq, _row.row_id, _digest, now());
    END LOOP;
    INSERT INTO audit_chainhead (chain, seq, digest) VALUES (_table, _seq, _digest);
    RETURN _seq;
END;
$$
"""


def chained_tables(cursor) -> list[tuple[str, str]]:
    """(table, primary key column) of every chained table, from the database's catalog:
    every pghistory event table, and the extra tables that exist."""
    cursor.execute(
        """
        SELECT c.table_name, 'pgh_id' FROM information_schema.columns c
        JOIN information_schema.tables t USING (table_schema, table_name)
        WHERE c.table_schema = current_schema() AND c.column_name = 'pgh_id'
          AND t.table_type = 'BASE TABLE'
        ORDER BY 1
        """
    )
    tables = [(name, pk) for name, pk in cursor.fetchall()]
    cursor.execute(
        "SELECT table_name FROM information_schema.tables "
        "WHERE table_schema = current_schema() AND table_name = ANY(%s)",
        [[name for name, _ in EXTRA_TABLES]],
    )
    present = {name for (name,) in cursor.fetchall()}
    tables += [(name, pk) for name, pk in EXTRA_TABLES if name in present]
    return sorted(tables)


def install_triggers(cursor, tables: list[tuple[str, str]]) -> None:
    for table, pk in tables:
        cursor.execute(
            f'DROP TRIGGER IF EXISTS {TRIGGER_NAME} ON "{table}";'
            f'CREATE CONSTRAINT TRIGGER {TRIGGER_NAME} AFTER INSERT ON "{table}" '
            f"DEFERRABLE INITIALLY DEFERRED FOR EACH ROW "
            f"EXECUTE FUNCTION audit_chain_link('{pk}')"
        )


def install(using: str = "default", **kwargs) -> None:
    """Put the chain trigger on every chained table and start the chain of any table that
    has none yet, linking its rows (a post_migrate receiver, so a table that a later
    migration adds is chained too). A table whose chain exists is never re-linked: rows
    inserted around the trigger stay unlinked, and verification reports them."""
    from django.db import connections

    conn = connections[using]
    with conn.cursor() as cursor:
        cursor.execute("SELECT to_regclass('audit_chainhead') IS NOT NULL")
        if not cursor.fetchone()[0]:
            return
        cursor.execute(LINK_FUNCTION)
        cursor.execute(BACKFILL_FUNCTION)
        tables = chained_tables(cursor)
        install_triggers(cursor, tables)
        for table, pk in tables:
            cursor.execute("SELECT audit_chain_backfill(%s, %s)", [table, pk])


def set_chain_triggers(enabled: bool) -> None:
    """Switch the chain triggers off or on (superuser; the benchmark's baseline only)."""
    action = "ENABLE" if enabled else "DISABLE"
    with connection.cursor() as cursor:
        for table, _pk in chained_tables(cursor):
            cursor.execute(f'ALTER TABLE "{table}" {action} TRIGGER {TRIGGER_NAME}')
