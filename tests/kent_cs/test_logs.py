"""A refused request is one line in the server's log, not a traceback (kent_cs.logs)."""

import logging

from django.urls import reverse


def test_a_403_is_logged_as_one_line_without_a_traceback(client, cashier, caplog):
    client.force_login(cashier)
    with caplog.at_level(logging.WARNING, logger="django.request"):
        response = client.get(reverse("activity"))

    assert response.status_code == 403
    [record] = [r for r in caplog.records if r.name == "django.request"]
    assert record.getMessage() == "Forbidden (Permission denied): /activity/"
    assert record.exc_info is None and "Traceback" not in caplog.text


def test_a_server_error_keeps_its_traceback():
    record = logging.LogRecord("django.request", logging.ERROR, "", 0, "boom", (), None)
    record.status_code = 500
    try:
        raise ValueError("boom")
    except ValueError as exc:
        record.exc_info = (type(exc), exc, exc.__traceback__)
    for f in logging.getLogger("django.request").filters:
        f.filter(record)
    assert record.exc_info is not None
