"""Background jobs: started from a request, run by a task, followed on a progress page,
downloaded by the person who started them (or a supervisor)."""

import pytest
from django.core.exceptions import ValidationError
from django.tasks import task
from django.urls import reverse

from kent_cs.jobs import job_progress, job_running, job_start, job_succeed, job_url
from kent_cs.models import Job

IMMEDIATE = {"default": {"BACKEND": "django.tasks.backends.immediate.ImmediateBackend"}}
CSV = "text/csv"


@task()
def export_numbers(job_id: int) -> None:
    with job_running(job_id) as job:
        rows = job.params["rows"]
        job_progress(job, done=0, total=rows, message="Writing rows")
        for done in range(1, rows + 1):
            job_progress(job, done=done)
        data = "".join(f"{n}\n" for n in range(1, rows + 1)).encode()
        job_succeed(job, name=job.params["name"], content_type=CSV, data=data, message="Done")


@task()
def export_that_fails(job_id: int) -> None:
    with job_running(job_id) as job:
        job_progress(job, done=1, total=4)
        raise ValidationError("The bank file has no header row.")


@pytest.fixture(autouse=True)
def _immediate_tasks(settings):
    settings.TASKS = IMMEDIATE


def start(user, task_=export_numbers, rows=3, name="numbers.csv", capture=None) -> Job:
    with capture(execute=True) as callbacks:
        job = job_start(
            kind="test-export",
            title="Numbers export",
            user=user,
            task=task_,
            params={"rows": rows, "name": name},
        )
        # Nothing is enqueued before the job row is committed.
        assert Job.objects.get(pk=job.pk).status == Job.Status.QUEUED
    assert len(callbacks) == 1
    job.refresh_from_db()
    return job


def test_a_job_runs_to_the_end_and_keeps_its_file(technician, django_capture_on_commit_callbacks):
    job = start(technician, rows=5, capture=django_capture_on_commit_callbacks)
    assert job.status == Job.Status.SUCCEEDED
    assert (job.progress_done, job.progress_total, job.percent) == (5, 5, 100)
    assert job.message == "Done"
    assert (job.result_name, job.result_content_type) == ("numbers.csv", CSV)
    assert bytes(job.result_data) == b"1\n2\n3\n4\n5\n"
    assert job.task_id  # the enqueued task's id, for looking it up in the worker's table
    assert job.started_at is not None and job.finished_at >= job.started_at
    assert job.created_by == technician
    assert job.is_finished
    assert job_url(job) == f"/jobs/{job.pk}/"


def test_a_failing_task_marks_the_job_failed_with_its_message(
    technician, django_capture_on_commit_callbacks, caplog
):
    job = start(technician, task_=export_that_fails, capture=django_capture_on_commit_callbacks)
    assert job.status == Job.Status.FAILED
    assert job.message == "Failed at 1 of 4: The bank file has no header row."
    assert (job.progress_done, job.progress_total, job.percent) == (1, 4, 25)
    assert job.finished_at is not None
    assert job.result_data is None
    assert f"Job {job.pk} (test-export) failed" in caplog.text


def test_the_job_page_shows_progress_and_the_download(
    client, technician, django_capture_on_commit_callbacks
):
    job = start(technician, capture=django_capture_on_commit_callbacks)
    client.force_login(technician)
    response = client.get(reverse("job-detail", args=[job.pk]))
    assert response.status_code == 200
    page = response.content.decode()
    assert '<h1 class="h3">Numbers export</h1>' in page
    assert "<strong>Finished</strong> — 3 of 3. Done" in page
    assert 'aria-valuenow="100"' in page
    assert f'href="/jobs/{job.pk}/download/">Download numbers.csv</a>' in page
    assert f'hx-get="/jobs/{job.pk}/"' not in page  # finished: the page stops polling
    assert "Started by technician" in page


def test_a_failed_job_page_says_why_and_offers_no_download(
    client, technician, django_capture_on_commit_callbacks
):
    job = start(technician, task_=export_that_fails, capture=django_capture_on_commit_callbacks)
    client.force_login(technician)
    page = client.get(reverse("job-detail", args=[job.pk])).content.decode()
    assert "<strong>Failed</strong> — 1 of 4" in page
    assert "Failed at 1 of 4: The bank file has no header row." in page
    assert "bg-danger" in page
    assert "Download" not in page
    response = client.get(reverse("job-download", args=[job.pk]))
    assert response.status_code == 404


def test_a_queued_job_page_polls_for_progress(client, technician):
    job = Job.objects.create(kind="test-export", title="Waiting export", created_by=technician)
    client.force_login(technician)
    page = client.get(reverse("job-detail", args=[job.pk])).content.decode()
    assert f'hx-get="/jobs/{job.pk}/"' in page
    assert 'hx-trigger="every 1s"' in page
    assert "<strong>Queued</strong>" in page
    assert client.get(reverse("job-download", args=[job.pk])).status_code == 404


def test_htmx_polling_gets_only_the_progress_partial(client, technician):
    job = Job.objects.create(
        kind="test-export",
        title="Half done",
        created_by=technician,
        status=Job.Status.RUNNING,
        progress_done=2,
        progress_total=4,
    )
    client.force_login(technician)
    response = client.get(reverse("job-detail", args=[job.pk]), headers={"HX-Request": "true"})
    assert response.status_code == 200
    fragment = response.content.decode().strip()
    assert fragment.startswith('<div id="job-progress"')
    assert fragment.endswith("</div>")
    assert "<strong>Running</strong> — 2 of 4" in fragment
    assert 'data-percent="50"' in fragment
    assert "<html" not in fragment
    assert "Started by" not in fragment  # outside the partial


def test_the_download_returns_the_file(client, technician, django_capture_on_commit_callbacks):
    job = start(technician, rows=2, capture=django_capture_on_commit_callbacks)
    client.force_login(technician)
    response = client.get(reverse("job-download", args=[job.pk]))
    assert response.status_code == 200
    assert response.content == b"1\n2\n"
    assert response["Content-Type"] == CSV
    assert response["Content-Disposition"] == 'attachment; filename="numbers.csv"'


def test_an_unusual_file_name_is_encoded_in_the_download_header(
    client, technician, django_capture_on_commit_callbacks
):
    job = start(
        technician,
        name='Recettes é "March" 2026.csv',
        capture=django_capture_on_commit_callbacks,
    )
    client.force_login(technician)
    response = client.get(reverse("job-download", args=[job.pk]))
    assert response["Content-Disposition"] == (
        "attachment; filename*=utf-8''Recettes%20%C3%A9%20%22March%22%202026.csv"
    )


@pytest.mark.parametrize(
    ("persona", "status"),
    [
        ("technician", 200),  # started it
        ("supervisor", 200),  # may see every job
        ("cashier", 404),
        ("admin", 404),
        ("outsider", 404),
    ],
)
def test_only_the_owner_and_supervisors_see_a_job(
    client, personas, persona, status, django_capture_on_commit_callbacks
):
    job = start(personas["technician"], capture=django_capture_on_commit_callbacks)
    client.force_login(personas[persona])
    page = client.get(reverse("job-detail", args=[job.pk]))
    assert page.status_code == status
    download = client.get(reverse("job-download", args=[job.pk]))
    assert download.status_code == status
    if status == 200:
        assert download.content == b"1\n2\n3\n"
    else:
        assert "Page not found" in page.content.decode()
        assert b"1\n2\n3\n" not in download.content


def test_the_job_page_does_not_load_the_file(
    client, technician, django_capture_on_commit_callbacks, django_assert_max_num_queries
):
    job = start(technician, capture=django_capture_on_commit_callbacks)
    client.force_login(technician)
    with django_assert_max_num_queries(8) as queries:
        client.get(reverse("job-detail", args=[job.pk]), headers={"HX-Request": "true"})
    job_queries = [q["sql"] for q in queries.captured_queries if "kent_cs_job" in q["sql"]]
    assert job_queries
    assert all('"kent_cs_job"."result_data"' not in sql for sql in job_queries)
