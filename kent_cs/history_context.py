"""pghistory's context as the database receives it: the two transaction-local settings
its triggers read, and the values to put in them now.

Both the audit context (kent_cs.audit, which enters and clears the context) and the
prepared cursors (kent_cs.db, which set it before writes Django's wrappers do not see)
build on this module.
"""

import json

import pghistory.config
import pghistory.runtime

# pghistory hands its context (who, from where, why) to its triggers in these settings,
# local to the transaction (parameters: the context id and its metadata as JSON; empty
# strings mean none).
HISTORY_CONTEXT_SETTERS = (
    "set_config('pghistory.context_id', %s, true), "
    "set_config('pghistory.context_metadata', %s, true)"
)
SET_HISTORY_CONTEXT = f"SELECT {HISTORY_CONTEXT_SETTERS}"


def current_history_context():
    """pghistory's context of this thread (entered by the outermost block), or None."""
    return getattr(pghistory.runtime._tracker, "value", None)


def history_context() -> tuple[str, str] | None:
    """The values pghistory would set before a write now (context id, metadata as JSON),
    or None outside any context: for statements sent past Django's execute wrappers
    (kent_cs.db.PreparedCursor)."""
    current = current_history_context()
    if current is None:
        return None
    metadata = current.metadata
    if all(isinstance(value, _JSON_SCALARS) for value in metadata.values()):
        return str(current.id), json.dumps(metadata)  # a request's: plain values
    return str(current.id), json.dumps(metadata, cls=pghistory.config.json_encoder())


_JSON_SCALARS = (str, int, float, bool, type(None))
