"""Access rules for retrying a failed background job.

A job is its starter's: the technician who started it and those who see every job
(supervisors, technicians) may retry it; anybody else gets a 404, as for its page.
"""

from kent_cs.models import Job
from tests.url_rules._base import Rule, pk_of

RULES = {
    "job-retry": Rule(
        {"technician", "supervisor"},
        method="post",
        kwargs=pk_of("failed_job"),
        not_found={"cashier", "cashier_b", "admin", "outsider"},
    ),
}


def scenario(personas, scene) -> dict:
    job = Job.objects.create(
        kind="test",
        title="Export that lost its worker",
        created_by=personas["technician"],
        status=Job.Status.FAILED,
        message="The worker running it stopped at 1 of 2 at 09:15.",
    )
    return {"failed_job": job}
