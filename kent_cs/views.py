"""The core's pages: home dashboard, /healthz, activity, job progress and download, error pages."""

from django.conf import settings
from django.contrib.auth.decorators import login_not_required, permission_required
from django.contrib.auth.views import LoginView
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.http import HttpResponse, JsonResponse
from django.shortcuts import render
from django.utils import timezone
from django.utils.http import content_disposition_header
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from kent_cs import selectors
from kent_cs.faults import database_fault, unavailable_response
from kent_cs.forms import SignInForm
from kent_cs.jobs import job_get_for_user
from kent_cs.models import WorkerHeartbeat
from kent_cs.navigation import nav_for


class SignInView(LoginView):
    form_class = SignInForm
    redirect_authenticated_user = True
    template_name = "registration/login.html"


def home(request):
    return render(
        request,
        "kent_cs/home.html",
        {"dashboard": selectors.dashboard_for(request.user), "sections": nav_for(request.user)},
    )


@login_not_required
@never_cache
@require_GET
def healthz(request):
    """Database reachable, migrations applied, worker alive — as JSON for load balancers."""
    report: dict = {"database": "unknown", "migrations": "unknown", "worker": "unknown"}
    healthy = True
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        report["database"] = "ok"
        executor = MigrationExecutor(connection)
        pending = executor.migration_plan(executor.loader.graph.leaf_nodes())
        report["migrations"] = f"{len(pending)} pending" if pending else "ok"
        healthy = not pending
        beat = WorkerHeartbeat.objects.order_by("-last_seen").first()
        if beat is None:
            report["worker"] = "no worker has started"
            healthy = False
        else:
            age = (timezone.now() - beat.last_seen).total_seconds()
            report["worker_last_seen_seconds"] = int(age)
            if age > settings.WORKER_HEARTBEAT_STALE_SECONDS:
                report["worker"] = "stale"
                healthy = False
            else:
                report["worker"] = "ok"
    except Exception as exc:  # the report itself must answer when the database is down
        failed = next((k for k, v in report.items() if v == "unknown"), "database")
        report[failed] = f"error: {exc.__class__.__name__}"
        healthy = False
    report["status"] = "ok" if healthy else "error"
    return JsonResponse(report, status=200 if healthy else 503)


@permission_required("kent_cs.view_activity", raise_exception=True)
def activity(request):
    form, page = selectors.activity_page(request.GET)
    return render(
        request,
        "kent_cs/activity.html",
        {"form": form, "page": page, "breadcrumbs": [("Activity", None)]},
    )


def job_detail(request, pk: int):
    job = job_get_for_user(user=request.user, pk=pk)
    template = "kent_cs/job.html#progress" if request.htmx else "kent_cs/job.html"
    return render(request, template, {"job": job, "breadcrumbs": [(job.title, None)]})


def job_download(request, pk: int):
    job = job_get_for_user(user=request.user, pk=pk)
    data = type(job).objects.filter(pk=job.pk).values_list("result_data", flat=True).get()
    if data is None:
        return render(request, "kent_cs/job.html", {"job": job}, status=404)
    response = HttpResponse(bytes(data), content_type=job.result_content_type)
    # Result names come from titles (Recettes é "Q1".xlsx): quotes and
    # non-ASCII need the RFC 6266 encoding, not a bare quoted string.
    response["Content-Disposition"] = content_disposition_header(True, job.result_name)
    return response


def error_403(request, exception=None):
    return render(request, "403.html", status=403)


def error_404(request, exception=None):
    return render(request, "404.html", status=404)


def error_500(request):
    if database_fault(request) is not None:
        return unavailable_response()  # rendered without reading the database
    return render(request, "500.html", status=500)
