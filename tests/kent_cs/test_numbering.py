"""Gapless numbering: concurrent takers queue on the series row; a rollback spends nothing."""

import threading

import pytest
from django.db import connection, connections, transaction

from kent_cs.models import NumberSeries
from kent_cs.numbering import next_number, peek_number

THREADS = 16
PER_THREAD = 5


class Boom(Exception):
    pass


@pytest.mark.django_db
def test_numbers_start_at_one_and_count_up():
    with transaction.atomic():
        first = next_number("test-series")
    with transaction.atomic():
        second = next_number("test-series")
    assert (first, second) == (1, 2)
    assert peek_number("test-series") == 3
    assert NumberSeries.objects.get(key="test-series").next_value == 3


@pytest.mark.django_db
def test_series_are_independent():
    with transaction.atomic():
        assert next_number("series-a") == 1
        assert next_number("series-a") == 2
        assert next_number("series-b") == 1
    assert peek_number("series-never-used") == 1


@pytest.mark.django_db
def test_outside_a_transaction_is_refused():
    # pytest-django wraps the test in a transaction; step out of it to see the guard.
    connection.in_atomic_block, saved = False, connection.in_atomic_block
    try:
        with pytest.raises(RuntimeError, match=r"inside transaction\.atomic"):
            next_number("test-series")
    finally:
        connection.in_atomic_block = saved


@pytest.mark.django_db(transaction=True)
def test_a_rolled_back_transaction_does_not_spend_its_number():
    with transaction.atomic():
        assert next_number("receipt") == 1
    with pytest.raises(Boom), transaction.atomic():
        assert next_number("receipt") == 2
        raise Boom
    with transaction.atomic():
        assert next_number("receipt") == 2  # the number 2 was given back, not skipped
    assert peek_number("receipt") == 3


@pytest.mark.django_db(transaction=True)
def test_a_rolled_back_savepoint_does_not_spend_its_number():
    with transaction.atomic():
        assert next_number("deposit") == 1
        with pytest.raises(Boom), transaction.atomic():
            next_number("deposit")
            raise Boom
        assert next_number("deposit") == 2


@pytest.mark.django_db(transaction=True)
def test_concurrent_takers_get_contiguous_numbers_without_duplicates():
    taken: list[int] = []
    errors: list[BaseException] = []
    lock = threading.Lock()
    start = threading.Barrier(THREADS)

    def take() -> None:
        try:
            start.wait()
            for _ in range(PER_THREAD):
                with transaction.atomic():
                    number = next_number("concurrent")
                with lock:
                    taken.append(number)
        except BaseException as exc:  # reported below; a thread must not die silently
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=take) for _ in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not any(thread.is_alive() for thread in threads)
    assert errors == []
    assert sorted(taken) == list(range(1, THREADS * PER_THREAD + 1))
    assert peek_number("concurrent") == THREADS * PER_THREAD + 1


@pytest.mark.django_db(transaction=True)
def test_concurrent_first_use_of_a_series_creates_one_row():
    taken: list[int] = []
    errors: list[BaseException] = []
    start = threading.Barrier(THREADS)

    def take() -> None:
        try:
            start.wait()
            with transaction.atomic():
                taken.append(next_number("brand-new"))
        except BaseException as exc:
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=take) for _ in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert errors == []
    assert sorted(taken) == list(range(1, THREADS + 1))
    assert NumberSeries.objects.filter(key="brand-new").count() == 1


@pytest.mark.django_db(transaction=True)
def test_concurrent_takers_with_rollbacks_leave_no_gap():
    """Every third transaction fails after taking its number; the numbers kept are 1..n."""
    kept: list[int] = []
    errors: list[BaseException] = []
    lock = threading.Lock()
    start = threading.Barrier(THREADS)

    def take(thread_index: int) -> None:
        try:
            start.wait()
            for attempt in range(PER_THREAD):
                try:
                    with transaction.atomic():
                        number = next_number("with-failures")
                        if (thread_index + attempt) % 3 == 0:
                            raise Boom
                except Boom:
                    continue
                with lock:
                    kept.append(number)
        except BaseException as exc:
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=take, args=(i,)) for i in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert errors == []
    assert kept, "some transactions must have committed"
    assert sorted(kept) == list(range(1, len(kept) + 1))
