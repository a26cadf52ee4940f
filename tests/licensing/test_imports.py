"""Importing existing license records: a dry run reports every bad line and writes
nothing; a good file is imported whole; a bad one is never half-imported."""

import io
from datetime import date
from decimal import Decimal

import pytest
from openpyxl import Workbook

from kent_cs.uploads.results import UploadRefused
from licensing.imports import license_import
from licensing.models import Business, Contact, License, LicenseStatusChange
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
    result = license_import(
        source=GOOD.encode(), user=technician, dry_run=False, filename="old.csv"
    )
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
    result = license_import(source=GOOD.encode(), user=technician, dry_run=False)
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
            'Line 3, column "UBI #": A UBI number is nine digits; this one has 5.',
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
    result = license_import(source=data.getvalue(), user=technician, dry_run=False)
    assert result.licenses_created == 1
    assert Business.objects.get(ubi="602100701").naics_code == "621210"
