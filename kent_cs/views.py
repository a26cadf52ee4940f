"""The core's pages: home dashboard, /healthz, activity, job progress and download, error pages."""

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_not_required, permission_required
from django.contrib.auth.views import LoginView
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.http import HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import content_disposition_header
from django.utils.safestring import mark_safe
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_POST
from django_otp import login as otp_login

from kent_cs import selectors, two_factor
from kent_cs.audit import client_ip
from kent_cs.faults import database_fault, unavailable_response
from kent_cs.forms import SecondFactorForm, SignInForm
from kent_cs.jobs import JobError, job_get_for_user, job_retry, job_retryable
from kent_cs.models import AuthEvent, WorkerHeartbeat
from kent_cs.navigation import nav_for


class SignInView(LoginView):
    form_class = SignInForm
    redirect_authenticated_user = True
    template_name = "registration/login.html"


@never_cache
def second_factor(request):
    """Confirm the sign-in with the authenticator app's code; set the app up first if the
    user has none (QR code and key shown until a code confirms it)."""
    user = request.user
    home_url = reverse("home")
    if not two_factor.second_factor_required(user) or user.is_verified():
        return redirect(two_factor.safe_next(request, home_url))
    device = two_factor.confirmed_device(user)
    setting_up = device is None
    if setting_up:
        device = two_factor.device_for_setup(user)
    form = SecondFactorForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        allowed, _details = device.verify_is_allowed()
        if allowed and device.verify_token(form.cleaned_data["code"]):
            if setting_up:
                device.confirmed = True
                device.save(update_fields=["confirmed"])
                AuthEvent.objects.create(
                    kind=AuthEvent.Kind.SECOND_FACTOR_SET,
                    username=user.get_username(),
                    user=user,
                    ip_address=client_ip(request),
                )
                messages.success(request, "Your authenticator app is set up.")
            otp_login(request, device)
            return redirect(two_factor.safe_next(request, home_url))
        AuthEvent.objects.create(
            kind=AuthEvent.Kind.SECOND_FACTOR_FAILED,
            username=user.get_username(),
            user=user,
            ip_address=client_ip(request),
        )
        if not allowed:
            form.add_error("code", "Too many wrong codes: wait a minute, then try again.")
        else:
            form.add_error(
                "code", "That code is not right or has expired: enter the one shown now."
            )
    return render(
        request,
        "registration/second_factor.html",
        {
            "form": form,
            "setting_up": setting_up,
            "qr_svg": mark_safe(two_factor.qr_svg(device)) if setting_up else "",  # noqa: S308 - our own SVG
            "key_text": two_factor.key_text(device) if setting_up else "",
            "demo_code": two_factor.current_code(device) if settings.DEMO_MODE else "",
            "next": two_factor.safe_next(request, ""),
        },
    )


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
    context = {"job": job, "retryable": job_retryable(job), "breadcrumbs": [(job.title, None)]}
    return render(request, template, context)


@require_POST
def job_retry_view(request, pk: int):
    """Run a failed job again (the person who started it, or one who sees every job)."""
    job = job_get_for_user(user=request.user, pk=pk)
    try:
        job_retry(job=job, user=request.user)
    except JobError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        messages.success(request, "Retrying: the work carries on where it stopped.")
    return redirect("job-detail", pk=job.pk)


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
