"""Starting and resuming renewal runs in the background.

The one place licensing enqueues a renewal run's task: the run's work itself is
`licensing.renewals.renewal_run_execute`, which the task calls.
"""

from django.db import transaction

from kent_cs.jobs import job_start
from kent_cs.models import Job
from licensing.models import RenewalRun
from licensing.renewals import RENEWAL_JOB_KIND, renewal_year_check
from licensing.services.common import LicensingError
from licensing.tasks import renewal_run_task


def renewal_run_start(*, year: int, user) -> RenewalRun:
    """Start a renewal run for `year` in the background (progress on its job page)."""
    renewal_year_check(year)
    with transaction.atomic():
        run = RenewalRun.objects.create(year=year, started_by=user)
        run.job = job_start(
            kind=RENEWAL_JOB_KIND,
            title=f"Renewal invoices for {year}",
            user=user,
            task=renewal_run_task,
            params={"run": run.pk},
        )
        run.save(update_fields=["job"])
    return run


def renewal_run_resume(*, run: RenewalRun, user) -> RenewalRun:
    """Run a failed (or interrupted) run again: it picks up the licenses still due."""
    with transaction.atomic():
        locked = RenewalRun.objects.select_for_update().get(pk=run.pk)
        if locked.status == RenewalRun.Status.SUCCEEDED:
            raise LicensingError("This run finished; start a new one to pick up later changes.")
        locked.status = RenewalRun.Status.QUEUED
        locked.job = job_start(
            kind=RENEWAL_JOB_KIND,
            title=f"Renewal invoices for {locked.year} (resumed)",
            user=user,
            task=renewal_run_task,
            params={"run": locked.pk},
        )
        locked.save(update_fields=["status", "job"])
    return locked


def renewal_runs_lost() -> int:
    """Runs whose job failed because its worker stopped are failed too (with the job's
    reason); the job's Retry runs them again, which invoices only the licenses still due."""
    lost = RenewalRun.objects.filter(
        status=RenewalRun.Status.RUNNING, job__status=Job.Status.FAILED
    )
    count = 0
    for run in lost.select_related("job"):
        assert run.job is not None  # the filter joined it
        count += RenewalRun.objects.filter(pk=run.pk, status=RenewalRun.Status.RUNNING).update(
            status=RenewalRun.Status.FAILED, message=run.job.message[:300]
        )
    return count
