"""Lost database connections: terminated backends never reach a request, a request's
read-only start is retried once, and a database out of reach answers 503 "nothing was
posted" instead of an error page (kent_cs.faults, kent_cs.pool, kent_cs.sessions)."""

import logging

import pytest
from django.db import connection
from django.urls import reverse

from tests.kent_cs.backends import allow_connections, terminate_backends

pytestmark = pytest.mark.django_db(transaction=True)


def _chain(exc: BaseException | None):
    while exc is not None:
        yield exc
        exc = exc.__cause__ or exc.__context__


def _logged_exceptions(caplog) -> list[BaseException]:
    return [e for r in caplog.records if r.exc_info for e in _chain(r.exc_info[1])]


def _signed_in_home(client, user) -> None:
    client.raise_request_exception = False  # as a browser sees it
    client.force_login(user)
    assert client.get(reverse("home")).status_code == 200


def test_pooled_connections_closed_by_the_server_are_not_handed_out(client, cashier, caplog):
    _signed_in_home(client, cashier)
    connection.close()  # back to the pool, as at the end of every request
    assert terminate_backends() >= 1  # the pool's idle connections among them

    with caplog.at_level(logging.WARNING):
        response = client.get(reverse("home"))

    assert response.status_code == 200
    assert not [r for r in caplog.records if r.name == "kent_cs.faults"]  # no retry needed


def test_a_pool_full_of_dead_connections_is_swept_at_once(client, cashier, caplog):
    """After a restart every idle connection is dead. Tried one by one, with the pool's
    growing delay between failed checks (1 s, 2 s, 4 s …), eight would outlast its
    10-second timeout."""
    _signed_in_home(client, cashier)
    connection.close()
    pool = connection.pool
    held = [pool.getconn() for _ in range(8)]
    for conn in held:
        pool.putconn(conn)
    assert pool.get_stats()["pool_available"] >= 8
    assert terminate_backends() >= 8

    with caplog.at_level(logging.WARNING):
        response = client.get(reverse("home"))

    assert response.status_code == 200
    assert not [r for r in caplog.records if r.name == "kent_cs.faults"]
    assert client.get(reverse("home")).status_code == 200  # the replacements are alive


def test_a_connection_lost_under_the_session_read_is_retried_once(client, cashier, caplog):
    _signed_in_home(client, cashier)
    terminate_backends(connection.connection.info.backend_pid)  # the one this thread holds

    with caplog.at_level(logging.WARNING):
        response = client.get(reverse("home"))

    assert response.status_code == 200
    assert [r.message for r in caplog.records if r.name == "kent_cs.faults"] == [
        f"Database connection lost (terminating connection due to administrator command); "
        f"{reverse('home')} retried once"
    ]
    assert not any(isinstance(e, AttributeError) for e in _logged_exceptions(caplog))


def test_a_post_whose_start_lost_the_connection_is_retried(client, cashier):
    _signed_in_home(client, cashier)
    terminate_backends(connection.connection.info.backend_pid)

    response = client.post(reverse("logout"))

    assert response.status_code == 302  # signed out, on a fresh connection
    assert client.get(reverse("home")).status_code == 302  # to the sign-in page


@pytest.mark.urls("tests.kent_cs.fault_urls")
def test_a_write_that_lost_its_connection_is_not_retried_and_says_nothing_was_posted(
    client, cashier, caplog
):
    _signed_in_home(client, cashier)

    with caplog.at_level(logging.WARNING):
        response = client.post(reverse("fault-write-then-lose"))

    assert response.status_code == 503
    assert "nothing was posted" in response.content.decode()
    assert response["Retry-After"] == "30"
    assert any("answered 503" in r.message for r in caplog.records)
    assert not any("retried once" in r.message for r in caplog.records)


def test_a_database_out_of_reach_answers_503_not_an_error_page(client, cashier, caplog):
    _signed_in_home(client, cashier)
    pool = connection.pool
    timeout, pool.timeout = pool.timeout, 1
    allow_connections(False)
    try:
        terminate_backends()
        with caplog.at_level(logging.WARNING):
            response = client.get(reverse("home"))
    finally:
        allow_connections(True)
        pool.timeout = timeout
        connection.close()
        connection.close_pool()  # a fresh pool for what follows

    assert response.status_code == 503
    body = response.content.decode()
    assert "The system is unavailable" in body and "nothing was posted" in body
    assert not any(isinstance(e, AttributeError) for e in _logged_exceptions(caplog))
