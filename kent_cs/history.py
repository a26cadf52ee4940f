"""How a model's history is tracked: pghistory's events, each event table with an index on
the event time, which the Activity page and every record's history sort and filter by."""

from typing import Any

import pghistory
from django.db import models


def tracked(*trackers: Any, **kwargs: Any):
    """`pghistory.track(...)` with an index on the event table's `pgh_created_at`."""
    meta = dict(kwargs.pop("meta", None) or {})
    meta["indexes"] = [*meta.get("indexes", []), models.Index(fields=["pgh_created_at"])]
    return pghistory.track(*trackers, meta=meta, **kwargs)
