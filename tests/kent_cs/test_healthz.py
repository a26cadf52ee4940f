"""/healthz: what a load balancer sees — database, migrations and the background worker."""

import threading
import time
from datetime import timedelta
from unittest import mock

import pytest
from django.db import OperationalError, connections
from django.urls import reverse
from django.utils import timezone

from kent_cs.management.commands.run_worker import beat_forever
from kent_cs.models import WorkerHeartbeat

pytestmark = pytest.mark.django_db


def beat(seconds_ago: float, worker_id: str = "web1-123-abcdef") -> WorkerHeartbeat:
    now = timezone.now()
    return WorkerHeartbeat.objects.create(
        worker_id=worker_id,
        hostname="web1",
        pid=123,
        started_at=now - timedelta(hours=1),
        last_seen=now - timedelta(seconds=seconds_ago),
    )


def health(client):
    response = client.get(reverse("healthz"))
    assert response["Content-Type"] == "application/json"
    return response.status_code, response.json()


def test_without_a_worker_the_site_is_unhealthy(client):
    status, report = health(client)
    assert status == 503
    assert report == {
        "database": "ok",
        "migrations": "ok",
        "worker": "no worker has started",
        "status": "error",
    }


def test_with_a_fresh_heartbeat_everything_is_ok(client):
    beat(seconds_ago=5)
    status, report = health(client)
    assert status == 200
    assert report["status"] == report["database"] == report["migrations"] == "ok"
    assert report["worker"] == "ok"
    assert 5 <= report["worker_last_seen_seconds"] < 60  # a slow machine adds seconds


def test_a_stale_heartbeat_makes_it_unhealthy(client, settings):
    settings.WORKER_HEARTBEAT_STALE_SECONDS = 60
    beat(seconds_ago=61)
    status, report = health(client)
    assert status == 503
    assert (report["worker"], report["status"]) == ("stale", "error")
    assert report["worker_last_seen_seconds"] >= 61


def test_the_newest_of_several_workers_counts(client):
    beat(seconds_ago=3600, worker_id="old-worker")
    beat(seconds_ago=2, worker_id="live-worker")
    status, report = health(client)
    assert status == 200
    assert report["worker_last_seen_seconds"] < 60  # the live worker, not the old one


def test_pending_migrations_make_it_unhealthy(client):
    beat(seconds_ago=1)
    with mock.patch(
        "kent_cs.views.MigrationExecutor.migration_plan",
        return_value=[("m1", False), ("m2", False)],
    ):
        status, report = health(client)
    assert status == 503
    assert report["migrations"] == "2 pending"
    assert report["worker"] == "ok"


def test_a_database_outage_is_reported_not_raised(client):
    with mock.patch(
        "kent_cs.views.connection.cursor", side_effect=OperationalError("connection refused")
    ):
        status, report = health(client)
    assert status == 503
    assert report == {
        "database": "error: OperationalError",
        "migrations": "unknown",
        "worker": "unknown",
        "status": "error",
    }


def test_a_failure_after_the_database_answered_names_the_failing_check(client):
    with mock.patch(
        "kent_cs.views.WorkerHeartbeat.objects.order_by", side_effect=OperationalError("gone")
    ):
        status, report = health(client)
    assert status == 503
    assert (report["database"], report["migrations"]) == ("ok", "ok")
    assert report["worker"] == "error: OperationalError"


def test_healthz_needs_no_sign_in_and_is_never_cached(client):
    beat(seconds_ago=1)
    response = client.get("/healthz")
    assert response.status_code == 200  # not a redirect to the sign-in page
    assert "no-cache" in response["Cache-Control"]
    assert "max-age=0" in response["Cache-Control"]


def test_healthz_answers_get_only(client):
    assert client.post("/healthz").status_code == 405


def test_healthz_is_not_redirected_to_https(client, settings):
    """Load balancers probe over plain http; everything else is redirected."""
    settings.SECURE_SSL_REDIRECT = True
    beat(seconds_ago=1)
    assert client.get("/healthz").status_code == 200
    response = client.get("/login/")
    assert response.status_code == 301
    assert response["Location"] == "https://testserver/login/"


@pytest.mark.django_db(transaction=True)
def test_the_worker_heartbeat_thread_makes_it_healthy(client):
    """run_worker's heartbeat thread, as it runs beside the task worker."""
    stop = threading.Event()

    def run() -> None:
        try:
            beat_forever("test-worker-1", timezone.now(), stop)
        finally:
            connections.close_all()

    thread = threading.Thread(target=run)
    thread.start()
    try:
        deadline = time.monotonic() + 20
        while not WorkerHeartbeat.objects.filter(worker_id="test-worker-1").exists():
            assert time.monotonic() < deadline, "no heartbeat within 20 seconds"
            time.sleep(0.05)
    finally:
        stop.set()
        thread.join(timeout=20)
    assert not thread.is_alive()
    status, report = health(client)
    assert status == 200
    assert report["worker"] == "ok"
    beat_row = WorkerHeartbeat.objects.get()
    assert beat_row.pid > 0 and beat_row.hostname
