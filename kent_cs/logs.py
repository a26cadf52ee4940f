"""Logging filters of the project's settings (LOGGING)."""

import logging


class RefusalsWithoutTraceback(logging.Filter):
    """A refused request (403 and the other 4xx answers) is logged as one line: the
    refusal is the application working, not an error, and a traceback for every one buries
    the real errors in the server's output."""

    def filter(self, record: logging.LogRecord) -> bool:
        status = getattr(record, "status_code", None)
        if status is not None and 400 <= status < 500:
            record.exc_info = None
            record.exc_text = None
        return True
