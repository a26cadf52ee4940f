"""A page that loses its database connection in the middle of a write, for
test_database_faults (mounted with the project's own URLs)."""

from django.db import connection, transaction
from django.http import HttpResponse
from django.urls import include, path
from django.views.decorators.http import require_POST

from tests.kent_cs.backends import terminate_backends


@require_POST
def write_then_lose(request):
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute("CREATE TEMPORARY TABLE fault_probe (n int)")
        terminate_backends(connection.connection.info.backend_pid)
        with connection.cursor() as cursor:
            cursor.execute("INSERT INTO fault_probe VALUES (1)")
    return HttpResponse("written")


urlpatterns = [
    path("fault/write-then-lose/", write_then_lose, name="fault-write-then-lose"),
    path("", include("kent_cs.urls")),
]
