"""Browser test: a technician schedules the daily cash report for Finance, is refused an
address outside the city, sends the report now to a local SMTP server and downloads the
kept copy from the delivery log; the pages pass axe-core and the CSP."""

import hashlib
from pathlib import Path

from playwright.sync_api import expect

from audit.models import ReportDelivery
from tests.audit.smtp_server import start_smtp_server
from tests.e2e.helpers import axe_violations, describe_violations, open_menu, sign_in, watch_csp


def test_technician_schedules_and_sends_a_report(live_server, page, technician, settings):
    smtp, server = start_smtp_server()
    settings.MAILERS = {
        "default": {
            "BACKEND": "django.core.mail.backends.smtp.EmailBackend",
            "OPTIONS": {"host": smtp.host, "port": smtp.port, "timeout": 5},
        }
    }
    settings.KENT_REPORT_EMAIL_DOMAINS = ["kentwa.gov"]
    settings.TASKS = {"default": {"BACKEND": "django.tasks.backends.immediate.ImmediateBackend"}}
    try:
        csp = watch_csp(page)
        sign_in(page, live_server, "technician")
        open_menu(page, "Audit").get_by_role("link", name="Scheduled reports").click()
        expect(page.get_by_role("heading", level=1)).to_have_text("Scheduled reports")
        page.get_by_role("link", name="New schedule").click()

        page.get_by_label("Name").fill("Daily cash report for Finance")
        page.get_by_label("Report").select_option("cashiering.daily-cash")
        page.get_by_label("Format").select_option("pdf")
        page.get_by_label("Frequency").select_option("daily")
        page.get_by_label("Recipients").fill("finance@kentwa.gov\nauditor@gmail.com")
        page.get_by_role("button", name="Save schedule").click()
        expect(page.get_by_text("auditor@gmail.com: reports can be sent only")).to_be_visible()
        assert axe_violations(page) == [], describe_violations(axe_violations(page))

        page.get_by_label("Recipients").fill("finance@kentwa.gov")
        page.get_by_role("button", name="Save schedule").click()
        expect(page.get_by_role("heading", level=1)).to_contain_text(
            "Daily cash report for Finance"
        )
        page.get_by_role("button", name="Send now").click()
        expect(page.get_by_text("The report is queued")).to_be_visible()
        page.reload()
        delivery = ReportDelivery.objects.get()
        assert delivery.status == "sent"
        assert [m.rcpt_to for m in smtp.received] == [["finance@kentwa.gov"]]
        assert axe_violations(page) == [], describe_violations(axe_violations(page))

        with page.expect_download() as info:
            page.get_by_role("link", name=delivery.file_name).click()
        data = Path(info.value.path()).read_bytes()
        assert data.startswith(b"%PDF")
        assert hashlib.sha256(data).hexdigest() == delivery.sha256
        assert smtp.received[0].attachments()[0][2] == data
        assert csp == []
    finally:
        server.shutdown()
        server.server_close()
