"""kent_next_number(series): take the next number of a gapless series inside an INSERT.

The same rules as kent_cs.numbering.next_number (the series row is locked until the
transaction ends; the number is spent only if it commits), as a SQL function so that a row
can take its number in the statement that inserts it: the series stays locked only from
that statement to the commit.
"""

from django.db import migrations

CREATE = """
CREATE OR REPLACE FUNCTION kent_next_number(series text) RETURNS bigint
LANGUAGE plpgsql VOLATILE AS $$
DECLARE
    taken bigint;
BEGIN
    UPDATE kent_cs_numberseries SET next_value = next_value + 1
        WHERE key = series RETURNING next_value - 1 INTO taken;
    IF taken IS NULL THEN
        INSERT INTO kent_cs_numberseries (key, next_value) VALUES (series, 1)
            ON CONFLICT (key) DO NOTHING;
        UPDATE kent_cs_numberseries SET next_value = next_value + 1
            WHERE key = series RETURNING next_value - 1 INTO taken;
    END IF;
    RETURN taken;
END;
$$;
"""
DROP = "DROP FUNCTION IF EXISTS kent_next_number(text);"


class Migration(migrations.Migration):
    dependencies = [("kent_cs", "0003_authevent_unlock")]

    operations = [migrations.RunSQL(CREATE, DROP)]
