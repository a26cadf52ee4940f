"""Importing existing license records: a dry run reports every bad line and writes
nothing; a good file is imported whole; a bad one is never half-imported."""

import csv
import io
from datetime import date
from decimal import Decimal

import pytest
from openpyxl import Workbook, load_workbook

from kent_cs.uploads.results import UploadRefused
from licensing.import_checks import ImportChoices
from licensing.import_files import (
    refused_rows_csv,
    refused_rows_filename,
    template_csv,
    template_xlsx,
)
from licensing.imports import license_import
from licensing.models import Business, Contact, License, LicenseImport, LicenseStatusChange
from licensing.validators import address_key, business_name_key
from tests.licensing.factories import make_business, make_license

D = Decimal
pytestmark = pytest.mark.django_db

HEADER = (
    "License #,Business Name,DBA,UBI #,NAICS Code,Address,ZIP,Type,Year,Status,FTE,"
    "Units,Owner,Phone,Inside City\n"
)
GOOD = (
    HEADER + "K-1001,Meeker Street Bakery LLC,Meeker Bakery,602 100 501,311811,"
    "210 W Meeker St,98032,GEN,2026,Active,8,,Rosa Diaz,253-555-0101,yes\n"
    + "K-1002,Meeker Street Bakery LLC,,602-100-501,311811,210 W Meeker St,98032,"
    "RENT,2026,active,,6,,,yes\n"
    + "K-1003,Auburn Roofing Inc,,602100502,238160,1 Main St,98002,CONT,2026,Expired,"
    "4,,,,no\n"
)


def import_confirmed(source, user, **kwargs):
    """Import after confirming every default and likely duplicate a check shows."""
    check = license_import(
        source=source,
        user=user,
        dry_run=True,
        **{k: v for k, v in kwargs.items() if k != "filename"},
    )
    return license_import(
        source=source, user=user, dry_run=False, confirmed=check.unconfirmed, **kwargs
    )


def counts() -> tuple[int, int, int, int]:
    return (
        Business.objects.count(),
        License.objects.count(),
        Contact.objects.count(),
        LicenseStatusChange.objects.count(),
    )


def test_dry_run_checks_everything_and_writes_nothing(technician):
    before = counts()
    result = license_import(source=GOOD.encode(), user=technician, dry_run=True)
    assert (result.rows, result.licenses_created, result.businesses_created) == (3, 3, 2)
    assert result.summary.startswith("3 lines: would create 3 licenses, 2 new businesses")
    assert counts() == before


def test_import_creates_businesses_contacts_and_numbered_licenses(technician):
    result = import_confirmed(GOOD.encode(), technician, filename="old.csv")
    assert (result.licenses_created, result.businesses_created) == (3, 2)
    bakery = Business.objects.get(ubi="602100501")
    assert bakery.trade_name == "Meeker Bakery"
    assert bakery.location_key == "210 W MEEKER ST|98032"
    assert bakery.contacts.get().name == "Rosa Diaz"
    licenses = {lic.legacy_number: lic for lic in License.objects.all()}
    assert licenses["K-1001"].business == licenses["K-1002"].business == bakery
    assert licenses["K-1002"].units == 6
    assert licenses["K-1003"].status == "expired"
    assert licenses["K-1003"].business.inside_city_limits is False
    assert sorted(lic.number for lic in licenses.values()) == result.license_numbers
    change = licenses["K-1001"].status_changes.get()
    assert (change.action, change.reason) == ("imported", "Imported from old.csv, line 2")
    assert change.effective_on == date(2026, 1, 1)


def test_an_existing_open_business_is_matched_by_ubi(technician):
    existing = make_business(ubi="602100501", legal_name="Meeker Street Bakery LLC")
    result = import_confirmed(GOOD.encode(), technician)
    assert (result.businesses_created, result.businesses_matched) == (1, 1)
    assert License.objects.filter(business=existing).count() == 2


def test_every_bad_line_is_reported_and_nothing_is_half_imported(technician):
    make_license(make_business(ubi="602100509", legal_name="Holder LLC", trade_name=""))
    License.objects.filter(business__ubi="602100509").update(legacy_number="K-OLD")
    bad = (
        HEADER
        + "K-2001,Good Co,,602100601,722511,1 A St,98032,GEN,2026,Active,3,,,,yes\n"
        + "K-2002,Bad UBI,,60210,722511,1 B St,98032,GEN,2026,Active,3,,,,yes\n"
        + "K-2003,Bad Type,,602100603,722511,1 C St,98032,XYZ,2026,Active,3,,,,yes\n"
        + "K-2004,Bad Status,,602100604,722511,1 D St,98032,GEN,2026,Dormant,3,,,,yes\n"
        + "K-2001,Dup Number,,602100605,722511,1 E St,98032,GEN,2026,Active,3,,,,yes\n"
        + "K-2006,Rental,,602100606,531110,1 F St,98032,RENT,2026,Active,,,,,yes\n"
        + "K-2007,Good Co Renamed,,602100601,722511,1 A St,98032,HOME,2026,Active,3,,,,yes\n"
        + "K-OLD,Again,,602100608,722511,1 G St,98032,GEN,2026,Active,3,,,,yes\n"
        + "K-2009,Holder LLC,,602100509,722511,1 H St,98032,GEN,2026,Active,3,,,,yes\n"
        + "K-2010,Bad NAICS,,602100610,99,1 I St,98032,GEN,2026,Active,3,,,,maybe\n"
    )
    before = counts()
    for dry_run in (True, False):
        with pytest.raises(UploadRefused) as excinfo:
            license_import(source=bad.encode(), user=technician, dry_run=dry_run)
        messages = excinfo.value.messages
        assert messages == [
            'Line 3, column "UBI #": A UBI number is nine digits (or sixteen with the branch and '
            "location numbers); this one has 5.",
            'Line 4, column "Type": "XYZ" is not a license type; use one of: CONT, GEN, HOME, '
            "PAWN, RENT.",
            'Line 5, column "Status": "Dormant" is not a status that can be imported; use one '
            "of: Active, Expired, Lapsed, Suspended, Revoked, Closed.",
            'Line 6, column "License #": License K-2001 is also on line 2.',
            'Line 7, column "Units": Enter the number of rental housing units.',
            'Line 8, column "Business Name": Line 2 gives this UBI to "Good Co"; one UBI is '
            "one business.",
            'Line 9, column "License #": License K-OLD was imported before.',
            'Line 10, column "Type": Holder LLC already holds a current General business '
            "license in this system.",
            'Line 11, column "NAICS Code": 99 is not a NAICS sector; codes start with 11, '
            "21-23, 31-33, 42, 44-45, 48-49, 51-56, 61, 62, 71, 72, 81 or 92.",
        ]
        assert counts() == before


def test_spreadsheets_are_imported_too(technician):
    book = Workbook()
    sheet = book.active
    sheet.append(["Business Name", "UBI", "NAICS", "Address", "ZIP", "Type", "Year", "Status"])
    sheet.append(
        [
            "Kent Station Dental PLLC",
            602100701,
            621210,
            "5 Ramsay Way",
            "98032",
            "GEN",
            2026,
            "Active",
        ]
    )
    data = io.BytesIO()
    book.save(data)
    result = import_confirmed(data.getvalue(), technician)
    assert result.licenses_created == 1
    assert Business.objects.get(ubi="602100701").naics_code == "621210"


# --- Washington's 16-digit UBI (UBI, branch, location) ------------------------------

SHORT_HEADER = "Business Name,UBI,NAICS,Address,ZIP,Type,Year,Status,Issue Date,Inside City\n"


def test_a_16_digit_ubi_is_read_as_ubi_branch_and_location(technician):
    text = (
        SHORT_HEADER + "Kent Tire Inc,602-100-501-001-0001,441340,1 Main St,98032,GEN,2026,Active,"
        "2026-02-01,yes\n"
        + "Kent Glass Inc,6021005020020003,238150,2 Main St,98032,GEN,2026,Active,"
        "2026-02-01,yes\n"
        + "Kent Dental PLLC,602 100 503,621210,3 Main St,98032,GEN,2026,Active,2026-02-01,yes\n"
    )
    result = import_confirmed(text.encode(), technician)
    assert result.licenses_created == 3
    found = {
        b.ubi: (b.ubi_branch, b.ubi_location, b.ubi_full_display) for b in Business.objects.all()
    }
    assert found == {
        "602100501": ("001", "0001", "602 100 501 001 0001"),
        "602100502": ("002", "0003", "602 100 502 002 0003"),
        "602100503": ("", "", "602 100 503"),
    }


def test_branch_and_location_columns_are_read_and_checked_against_the_16_digits(technician):
    text = (
        "Business Name,UBI,Branch,Location #,NAICS,Address,ZIP,Type,Year,Status\n"
        "Kent Tire Inc,602100501,1,1,441340,1 Main St,98032,GEN,2026,Active\n"
        "Kent Glass Inc,602-100-502-001-0001,001,0002,238150,2 Main St,98032,GEN,2026,Active\n"
        "Kent Tire Inc,602100501,1,2,441340,9 Main St,98032,RENT,2026,Active\n"
        "Fake Co,000-000-000-001-0001,,,238150,4 Main St,98032,GEN,2026,Active\n"
        "Short Co,602100505001,,,238150,5 Main St,98032,GEN,2026,Active\n"
    )
    with pytest.raises(UploadRefused) as excinfo:
        license_import(source=text.encode(), user=technician, dry_run=True)
    assert excinfo.value.messages == [
        'Line 3, column "UBI": The 16-digit UBI says branch 001, location 0001; the branch and '
        "location columns say branch 001, location 0002.",
        'Line 4, column "UBI": Line 2 gives this UBI branch 001, location 0001, this line '
        "branch 001, location 0002. This system keeps one open business per UBI: import one "
        "location's licenses, or correct the branch and location numbers.",
        'Line 5, column "UBI": 000 000 000 is a placeholder, not a UBI.',
        'Line 6, column "UBI": A UBI number is nine digits (or sixteen with the branch and '
        "location numbers); this one has 12.",
    ]


# --- defaults shown and confirmed ----------------------------------------------------

BARE_HEADER = "Business Name,UBI,NAICS,Address,ZIP,Type,Year,Status\n"
BARE = (
    BARE_HEADER
    + "Kent Tire Inc,602100501,441340,1 Main St,98032,GEN,2026,Active\n"
    + "Kent Glass Inc,602100502,238150,2 Main St,98032,GEN,2026,Active\n"
)


def test_every_default_for_a_missing_column_is_shown_and_nothing_is_written_unconfirmed(
    technician,
):
    check = license_import(source=BARE.encode(), user=technician, dry_run=True)
    messages = [d.message for d in check.defaults]
    assert messages == [
        'Column "Inside City Limits" is not in the file: every business will be recorded as '
        "inside city limits.",
        'Column "Issue Date" is not in the file: every license will be recorded as issued on '
        "January 1 of its license year.",
        'Column "Open Date" is not in the file: every business will be recorded as opened on '
        "its license's issue date.",
        'Column "City" is not in the file: every business will be recorded as located in Kent.',
        'Column "State" is not in the file: every business will be recorded as located in WA.',
        'Column "Ownership Type" is not in the file: every business will be recorded with the '
        'ownership type "Other".',
        'Column "FTE" is not in the file: every business will be recorded with 0 FTE employees.',
    ]
    before = counts()
    for confirmed in ([], check.unconfirmed[1:]):  # none, then all but one
        result = license_import(
            source=BARE.encode(), user=technician, dry_run=False, confirmed=confirmed
        )
        assert not result.written
        assert result.record is None
        assert counts() == before
    assert result.unconfirmed == ["inside_city=inside"]
    result = license_import(
        source=BARE.encode(), user=technician, dry_run=False, confirmed=check.unconfirmed
    )
    assert result.written and result.licenses_created == 2


def test_the_technician_chooses_another_value_and_confirms_that_one(technician):
    choices = ImportChoices(inside_city=False, issued_on=date(2026, 3, 2))
    check = license_import(source=BARE.encode(), user=technician, dry_run=True, choices=choices)
    assert check.defaults[0].message.endswith(
        "every business will be recorded as outside city limits."
    )
    assert check.defaults[1].message.endswith(
        "every license will be recorded as issued on March 2, 2026."
    )
    # A confirmation of the other value does not hold for this one.
    stale = license_import(
        source=BARE.encode(),
        user=technician,
        dry_run=False,
        choices=choices,
        confirmed=["inside_city=inside", "issued_on=january_1", *check.unconfirmed[2:]],
    )
    assert stale.unconfirmed == ["inside_city=outside", "issued_on=2026-03-02"]
    assert License.objects.count() == 0
    license_import(
        source=BARE.encode(),
        user=technician,
        dry_run=False,
        choices=choices,
        confirmed=check.unconfirmed,
    )
    assert set(Business.objects.values_list("inside_city_limits", flat=True)) == {False}
    assert set(License.objects.values_list("issued_on", flat=True)) == {date(2026, 3, 2)}
    assert set(Business.objects.values_list("opened_on", flat=True)) == {date(2026, 3, 2)}


def test_blank_cells_of_a_column_the_file_has_are_shown_as_defaults_too(technician):
    text = (
        "Business Name,UBI,NAICS,Address,City,State,ZIP,Type,Year,Status,Issue Date,Open Date,"
        "Inside City,Ownership,FTE\n"
        "Kent Tire Inc,602100501,441340,1 Main St,Kent,WA,98032,GEN,2026,Active,2026-02-01,"
        "2020-01-01,no,llc,3\n"
        "Kent Glass Inc,602100502,238150,2 Main St,Kent,WA,98032,GEN,2026,Active,2026-02-01,"
        "2020-01-01,,llc,3\n"
    )
    check = license_import(source=text.encode(), user=technician, dry_run=True)
    assert [d.message for d in check.defaults] == [
        'Column "Inside City" is blank on 1 line (3): that business will be recorded as '
        "inside city limits."
    ]


def test_a_refusal_names_only_columns_the_file_has(technician):
    text = (
        "Business Name,UBI,NAICS,Address,ZIP,Type,Year,Status,Open Date\n"
        "Kent Tire Inc,602100501,441340,1 Main St,98032,GEN,2026,Active,2026-04-01\n"
        "Kent Flats LLC,602100502,531110,2 Main St,98032,RENT,2026,Active,2020-01-01\n"
    )
    with pytest.raises(UploadRefused) as excinfo:
        license_import(source=text.encode(), user=technician, dry_run=True)
    assert excinfo.value.messages == [
        'Line 2, column "Open Date": The business opened on 04/01/2026, after 01/01/2026, the '
        "issue date given to licenses without one; give this line its issue date.",
        'Line 3: There is no "Units" column; a Rental housing license needs the number of '
        "rental housing units.",
    ]


# --- the template -----------------------------------------------------------------


def test_the_template_marks_required_columns_and_its_example_imports(technician):
    text = template_csv().decode("utf-8-sig")
    markers, header, example = list(csv.reader(io.StringIO(text)))
    marked = dict(zip(header, markers, strict=True))
    assert example[header.index("UBI")] == "602-123-456-001-0001"
    assert {name for name, mark in marked.items() if mark == "Required"} == {
        "Business Name",
        "UBI",
        "NAICS Code",
        "Address",
        "ZIP",
        "License Type",
        "License Year",
        "Status",
    }
    assert len(header) == 29  # every column the import reads
    check = license_import(source=template_csv(), user=technician, dry_run=True)
    assert (check.defaults, check.warnings) == ([], [])
    result = license_import(source=template_csv(), user=technician, dry_run=False)
    assert result.licenses_created == 1
    business = Business.objects.get()
    assert (business.ubi, business.ubi_branch, business.ubi_location) == (
        "602123456",
        "001",
        "0001",
    )
    assert (business.legal_name, business.ownership_type, business.fte_employees) == (
        "Meeker Street Bakery LLC",
        "llc",
        D("8.00"),
    )
    assert business.contacts.get().email == "rosa@meekerbakery.example"


def test_the_excel_template_imports_too(technician):
    data = template_xlsx()
    sheet = load_workbook(io.BytesIO(data)).active
    assert [c.value for c in sheet[1]][:3] == ["Required", "Optional", "Required"]
    assert [c.value for c in sheet[2]][:3] == ["Business Name", "DBA", "UBI"]
    result = license_import(source=data, user=technician, dry_run=False)
    assert result.licenses_created == 1
    assert License.objects.get().legacy_number.startswith("BL-")


# --- likely duplicates ------------------------------------------------------------


def test_likely_duplicates_by_name_and_address_are_shown_and_must_be_confirmed(technician):
    make_business(
        ubi="602100777",
        legal_name="Meeker Street Bakery, L.L.C.",
        trade_name="",
        location_line1="210 West Meeker Street",
        location_zip="98032",
    )
    make_business(ubi="602100888", legal_name="Kent Auto Body Inc", trade_name="")
    text = (
        SHORT_HEADER
        + "MEEKER STREET BAKERY LLC,602100501,311811,210 W. Meeker St.,98032,GEN,2026,Active,"
        "2026-02-01,yes\n"
        + "Benson Hardware & Supply,602100502,444130,25 Benson Road,98031,GEN,2026,Active,"
        "2026-02-01,yes\n"
        + "Benson Hardware and Supply Co,602100503,444130,25 Benson Rd,98031,GEN,2026,Active,"
        "2026-02-01,yes\n"
        + "Kent Collision Center,602100888,811121,9 Main St,98032,CONT,2026,Active,"
        "2026-02-01,yes\n"
        + "Valley Florist,602100504,453110,7 Main St,98032,GEN,2026,Active,2026-02-01,yes\n"
    )
    check = license_import(source=text.encode(), user=technician, dry_run=True)
    assert [str(w) for w in check.warnings] == [
        'Line 2: "MEEKER STREET BAKERY LLC" at 210 W. Meeker St., 98032 looks like Meeker '
        "Street Bakery, L.L.C. (UBI 602 100 777), already on file under another UBI.",
        'Line 4: "Benson Hardware and Supply Co" at 25 Benson Rd, 98031 looks like "Benson '
        'Hardware & Supply" on line 3 (UBI 602 100 502), under another UBI.',
        'Line 5: UBI 602 100 888 is on file as "Kent Auto Body Inc"; this line names "Kent '
        'Collision Center". Its license will be added to the business on file.',
    ]
    confirmed = [c for c in check.unconfirmed if c != "likely_duplicates"]
    before = counts()
    blocked = license_import(
        source=text.encode(), user=technician, dry_run=False, confirmed=confirmed
    )
    assert blocked.unconfirmed == ["likely_duplicates"]
    assert counts() == before
    result = license_import(
        source=text.encode(), user=technician, dry_run=False, confirmed=check.unconfirmed
    )
    assert (result.licenses_created, result.businesses_created) == (5, 4)


def test_names_and_addresses_compare_without_case_punctuation_or_street_words():
    assert business_name_key("Meeker Street Bakery, L.L.C.") == "MEEKER STREET BAKERY"
    assert business_name_key("The Benson Hardware & Supply Co.") == "BENSON HARDWARE AND SUPPLY"
    assert address_key("210 West Meeker Street", "98032-1234") == address_key(
        "210 W. Meeker St.", "98032"
    )


# --- importing the good lines ----------------------------------------------------


def test_all_or_nothing_stays_the_default(technician):
    text = BARE + "Bad Co,60210,238150,3 Main St,98032,GEN,2026,Active\n"
    with pytest.raises(UploadRefused):
        license_import(source=text.encode(), user=technician, dry_run=False, confirmed=["x"])
    assert counts() == (0, 0, 0, 0)


def test_the_good_lines_are_imported_and_the_refused_ones_kept_to_correct(technician):
    text = (
        BARE
        + "=cmd|' /C notepad'!A0 LLC,60210,238150,3 Main St,98032,GEN,2026,Active\n"
        + "Kent Pawn Inc,602100504,522298,4 Main St,98032,XYZ,2026,Active\n"
    )
    check = license_import(
        source=text.encode(), user=technician, dry_run=True, mode=LicenseImport.Mode.GOOD_ROWS
    )
    assert (check.licenses_created, len(check.refused)) == (2, 2)
    assert check.summary == (
        "4 lines: would create 2 licenses, 2 new businesses, 0 matched to businesses already "
        "on file. 2 refused lines are not imported."
    )
    assert counts() == (0, 0, 0, 0)
    result = license_import(
        source=text.encode(),
        user=technician,
        dry_run=False,
        mode=LicenseImport.Mode.GOOD_ROWS,
        confirmed=check.unconfirmed,
        filename="city.csv",
    )
    assert result.written and result.licenses_created == 2
    assert sorted(Business.objects.values_list("legal_name", flat=True)) == [
        "Kent Glass Inc",
        "Kent Tire Inc",
    ]
    record = result.record
    assert (record.refused_count, record.created_by, record.file_name) == (
        2,
        technician,
        "city.csv",
    )
    refused = list(csv.reader(io.StringIO(refused_rows_csv(record).decode("utf-8-sig"))))
    assert refused[0] == [*BARE_HEADER.strip().split(","), "Problem"]
    assert refused[1][0] == "'=cmd|' /C notepad'!A0 LLC"  # formula-safe
    assert refused[1][1:-1] == ["60210", "238150", "3 Main St", "98032", "GEN", "2026", "Active"]
    assert refused[1][-1] == (
        'Line 4, column "UBI": A UBI number is nine digits (or sixteen with the branch and '
        "location numbers); this one has 5."
    )
    assert refused[2][-1].startswith('Line 5, column "Type": "XYZ" is not a license type')
    assert refused_rows_filename(record) == "city-refused-rows.csv"

    # Corrected, the refused file imports (its problem column is left alone).
    refused[1][0], refused[1][1] = "Kent Signs LLC", "602100503"
    refused[2][5] = "GEN"
    corrected = io.StringIO()
    csv.writer(corrected).writerows(refused)
    again = import_confirmed(corrected.getvalue().encode(), technician)
    assert again.licenses_created == 2
    assert Business.objects.count() == 4


def test_a_16_digit_ubi_held_as_a_spreadsheet_number_is_refused_not_misread(technician):
    book = Workbook()
    sheet = book.active
    sheet.append(["Business Name", "UBI", "NAICS", "Address", "ZIP", "Type", "Year", "Status"])
    sheet.append(
        ["Kent Tire Inc", 6021005010010001, 441340, "1 Main St", "98032", "GEN", 2026, "Active"]
    )
    sheet.append(
        [
            "Kent Glass Inc",
            "602100502-001-0001",
            238150,
            "2 Main St",
            "98032",
            "GEN",
            2026,
            "Active",
        ]
    )
    data = io.BytesIO()
    book.save(data)
    with pytest.raises(UploadRefused) as excinfo:
        license_import(source=data.getvalue(), user=technician, dry_run=True)
    assert excinfo.value.messages == [
        'Row 2, column "UBI": 6021005010010001 is a number in the spreadsheet, and Excel keeps '
        "only 15 digits of a number, so the last digit of this 16-digit UBI may be lost. Format "
        "the column as text and type the UBI again (or put the branch and location in columns "
        "of their own)."
    ]


def test_a_business_registered_meanwhile_refuses_the_import_and_writes_nothing(
    technician, monkeypatch
):
    from licensing import imports

    checked = imports.likely_duplicates

    def someone_else_registers(*args, **kwargs):
        # Between the check and the write, another technician registers a business.
        make_business(ubi="602100502", legal_name="Kent Glass Inc")
        return checked(*args, **kwargs)

    monkeypatch.setattr(imports, "likely_duplicates", someone_else_registers)
    text = BARE.replace("\n", ",yes\n").replace("Status,yes", "Status,Inside City")
    with pytest.raises(UploadRefused) as excinfo:
        license_import(
            source=text.encode(),
            user=technician,
            dry_run=False,
            mode=LicenseImport.Mode.GOOD_ROWS,
            confirmed=[
                "issued_on=january_1",
                "opened_on=issued",
                "city=Kent",
                "state=WA",
                "ownership_type=other",
                "fte=0",
            ],
        )
    assert "added by someone else meanwhile" in excinfo.value.messages[0]
    assert list(Business.objects.values_list("legal_name", flat=True)) == ["Kent Glass Inc"]
    assert (License.objects.count(), LicenseImport.objects.count()) == (0, 0)
