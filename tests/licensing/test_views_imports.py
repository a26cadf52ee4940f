"""Importing existing license records through the screen: "Check file" lists every bad
line and writes nothing; "Import" adds the whole file."""

import csv
import io
from datetime import date

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from licensing.models import Business, Contact, License, LicenseImport, LicenseStatusChange

pytestmark = pytest.mark.django_db

HEADER = "License #,Business Name,UBI #,NAICS Code,Address,ZIP,Type,Year,Status,Owner\n"
GOOD = (
    HEADER + "K-1001,Meeker Street Bakery LLC,602 100 501,311811,210 W Meeker St,98032,GEN,2026,"
    "Active,Rosa Diaz\n"
    + "K-1002,Auburn Roofing Inc,602100502,238160,1 Main St,98002,CONT,2026,Expired,\n"
)
BAD = (
    HEADER + "K-1001,Meeker Street Bakery LLC,602 100 501,311811,210 W Meeker St,98032,GEN,2026,"
    "Active,Rosa Diaz\n"
    + "K-1002,Auburn Roofing Inc,60210050,238160,1 Main St,98002,CONT,2026,Expired,\n"
    + "K-1003,Kent Tire Inc,602100503,441340,2 Main St,98032,TIRE,2026,Active,\n"
    + "K-1001,Kent Glass Inc,602100504,238150,3 Main St,98032,GEN,2026,Pending,\n"
)


def upload(client, text: str, *, dry_run: bool, name: str = "licenses.csv", **fields):
    data = {"file": SimpleUploadedFile(name, text.encode(), content_type="text/csv"), **fields}
    if dry_run:
        data["dry_run"] = "1"
    return client.post(reverse("licensing:license-import"), data)


def confirmations(response) -> list[str]:
    """What the check asks the technician to confirm (the checkboxes' values)."""
    return response.context["result"].unconfirmed


def counts():
    return tuple(m.objects.count() for m in (Business, Contact, License, LicenseStatusChange))


def test_check_file_reports_every_bad_line_and_writes_nothing(client_for, technician):
    before = counts()
    response = upload(client_for(technician), BAD, dry_run=True)
    problems = [str(p) for p in response.context["problems"]]
    assert [p.partition(": ")[0] for p in problems] == [
        'Line 3, column "UBI #"',
        'Line 4, column "Type"',
        'Line 5, column "Status"',
    ]
    page = response.content.decode()
    assert "licenses.csv cannot be imported as it is. Nothing was changed." in page
    assert "Correct these 3 problems" in page
    assert (
        "Line 3, column &quot;UBI #&quot;: A UBI number is nine digits (or sixteen with the "
        "branch and location numbers); this one has 8." in page
    )
    assert "&quot;TIRE&quot; is not a license type" in page
    assert counts() == before


def test_import_of_a_bad_file_writes_nothing_either(client_for, technician):
    before = counts()
    response = upload(client_for(technician), BAD, dry_run=False)
    assert response.context["problems"]
    assert counts() == before


def test_check_then_import_a_good_file(client_for, technician):
    client = client_for(technician)
    before = counts()
    response = upload(client, GOOD, dry_run=True)
    assert "2 lines: would create 2 licenses, 2 new businesses" in response.content.decode()
    assert counts() == before

    confirm = confirmations(response)
    response = upload(client, GOOD, dry_run=False, confirm=confirm)
    page = response.content.decode()
    assert "Imported licenses.csv" in page
    assert "2 lines: created 2 licenses, 2 new businesses" in page
    bakery = License.objects.get(legacy_number="K-1001")
    assert (bakery.business.legal_name, bakery.status) == ("Meeker Street Bakery LLC", "active")
    first, last = License.objects.order_by("number")
    assert f"New license numbers {first.display_number} to {last.display_number}." in page
    assert bakery.status_changes.get().reason == "Imported from licenses.csv, line 2"


def test_a_file_that_is_not_a_table_is_refused(client_for, technician):
    response = upload(client_for(technician), "%PDF-1.7 not a table", dry_run=True, name="x.csv")
    assert "This is a PDF file" in response.content.decode()


def test_import_is_refused_to_supervisors(client_for, supervisor):
    before = counts()
    assert upload(client_for(supervisor), GOOD, dry_run=False).status_code == 403
    assert counts() == before


def test_the_heading_counts_every_problem_not_only_those_listed(client_for, technician):
    rows = "".join(
        f"K-{2000 + n},Shop {n} LLC,60210{n:04d},311811,{n} Main St,98032,TIRE,2026,Active,\n"
        for n in range(120)
    )
    response = upload(client_for(technician), HEADER + rows, dry_run=True)
    problems = response.context["problems"]
    assert len(problems) == 51  # fifty listed, then a line counting the rest
    assert str(problems[-1]) == "And 70 more problems not listed here."
    page = response.content.decode()
    assert "Correct these 120 problems" in page
    assert "these 51 problems" not in page


BARE = (
    "Business Name,UBI,NAICS,Address,ZIP,Type,Year,Status\n"
    "Kent Tire Inc,602100501,441340,1 Main St,98032,GEN,2026,Active\n"
    "Kent Glass Inc,602-100-502-001-0001,238150,2 Main St,98032,GEN,2026,Active\n"
)


def test_check_shows_each_default_to_confirm_and_import_waits_for_it(client_for, technician):
    client = client_for(technician)
    response = upload(client, BARE, dry_run=True)
    page = response.content.decode()
    assert (
        "Column &quot;Inside City Limits&quot; is not in the file: every business will be "
        "recorded as inside city limits." in page
    )
    assert 'name="confirm" value="inside_city=inside"' in page
    before = counts()
    response = upload(client, BARE, dry_run=False, confirm=confirmations(response)[1:])
    page = response.content.decode()
    assert "licenses.csv was not imported: confirm the items below first." in page
    assert counts() == before

    response = upload(
        client,
        BARE,
        dry_run=False,
        inside_city="outside",
        issued_on="2026-03-02",
        confirm=confirmations(
            upload(client, BARE, dry_run=True, inside_city="outside", issued_on="2026-03-02")
        ),
    )
    assert "Imported licenses.csv" in response.content.decode()
    glass = Business.objects.get(ubi="602100502")
    assert (glass.ubi_branch, glass.ubi_location, glass.inside_city_limits) == (
        "001",
        "0001",
        False,
    )
    assert set(License.objects.values_list("issued_on", flat=True)) == {date(2026, 3, 2)}


def test_good_lines_only_imports_them_and_offers_the_refused_ones(client_for, technician):
    client = client_for(technician)
    response = upload(client, BAD, dry_run=True, mode="good_rows")
    page = response.content.decode()
    assert "These lines would be refused and not imported (3 problems)" in page
    assert counts() == (0, 0, 0, 0)
    response = upload(client, BAD, dry_run=False, mode="good_rows", confirm=confirmations(response))
    page = response.content.decode()
    assert "Imported licenses.csv" in page
    assert License.objects.get().legacy_number == "K-1001"
    record = response.context["result"].record
    url = reverse("licensing:license-import-refused-csv", args=[record.pk])
    assert f'href="{url}"' in page
    download = client.get(url)
    assert download["Content-Type"].startswith("text/csv")
    assert 'filename="licenses-refused-rows.csv"' in download["Content-Disposition"]
    rows = list(csv.reader(io.StringIO(download.content.decode("utf-8-sig"))))
    assert rows[0] == [*HEADER.strip().split(","), "Problem"]
    assert [row[0] for row in rows[1:]] == ["K-1002", "K-1003", "K-1001"]


def test_the_template_downloads_for_technicians(client_for, technician):
    client = client_for(technician)
    page = client.get(reverse("licensing:license-import")).content.decode()
    csv_url = reverse("licensing:license-import-template-download", args=["csv"])
    xlsx_url = reverse("licensing:license-import-template-download", args=["xlsx"])
    assert f'href="{csv_url}"' in page and f'href="{xlsx_url}"' in page
    response = client.get(csv_url)
    assert 'filename="license-import-template.csv"' in response["Content-Disposition"]
    rows = list(csv.reader(io.StringIO(response.content.decode("utf-8-sig"))))
    assert rows[1][:3] == ["Business Name", "DBA", "UBI"]
    assert client.get(xlsx_url)["Content-Type"].startswith("application/vnd.openxmlformats")
    assert (
        client.get(reverse("licensing:license-import-template-download", args=["pdf"])).status_code
        == 404
    )


@pytest.mark.parametrize("persona", ["cashier", "outsider"])
def test_import_downloads_are_refused_to_others(client_for, technician, persona, request):
    record = LicenseImport.objects.create(
        file_name="city.csv",
        mode="good_rows",
        rows=1,
        licenses_created=0,
        businesses_created=0,
        businesses_matched=0,
        refused={"columns": ["UBI"], "rows": [["Line 2: bad", "60210"]]},
        refused_count=1,
        created_by=technician,
    )
    client = client_for(request.getfixturevalue(persona))
    urls = [
        reverse("licensing:license-import-refused-csv", args=[record.pk]),
        reverse("licensing:license-import-template-download", args=["csv"]),
        reverse("licensing:license-import"),
    ]
    assert [client.get(url).status_code for url in urls] == [403, 403, 403]
    assert upload(client, GOOD, dry_run=False, confirm=["x"]).status_code == 403
    assert counts() == (0, 0, 0, 0)


def test_a_missing_import_is_404(client_for, technician):
    url = reverse("licensing:license-import-refused-csv", args=[999999])
    assert client_for(technician).get(url).status_code == 404


def test_an_imported_business_shows_its_ubi_branch_and_location(client_for, technician):
    client = client_for(technician)
    check = upload(client, BARE, dry_run=True)
    upload(client, BARE, dry_run=False, confirm=confirmations(check))
    glass = Business.objects.get(ubi="602100502")
    page = client.get(reverse("licensing:business-detail", args=[glass.pk])).content.decode()
    assert "602 100 502" in page
    assert "branch 001, location 0001" in page
    columns = client.get(reverse("licensing:license-import")).content.decode()
    assert "<strong>Required:</strong> Business Name, UBI, NAICS Code," in columns
