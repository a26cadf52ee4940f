"""Demo chart of accounts for a Washington city (BARS-style codes), fee codes, periods."""

from decimal import Decimal

from django.db import transaction
from django.utils import timezone

from ledger.models import FeeCode, FeeDistribution, Fund, GLAccount
from ledger.services import periods_ensure_year

A = GLAccount.Type
FUNDS = [
    ("001", "General Fund"),
    ("401", "Water Utility Fund"),
    ("402", "Sewer Utility Fund"),
    ("403", "Drainage Utility Fund"),
]
# fund, code, name, type, flags
ACCOUNTS = [
    ("001", "101.10", "Cash - operating bank account", A.ASSET, {"is_cash": True}),
    ("001", "101.20", "Cash on hand - change funds", A.ASSET, {"is_cash": True}),
    ("001", "101.30", "Undeposited receipts clearing", A.ASSET, {"is_clearing": True}),
    ("001", "101.40", "Card and ACH settlements clearing", A.ASSET, {"is_clearing": True}),
    ("001", "121.10", "Accounts receivable - AR invoices", A.ASSET, {"is_control": True}),
    ("001", "122.30", "Business license receivable", A.ASSET, {"is_control": True}),
    ("001", "122.40", "Returned checks receivable", A.ASSET, {"is_control": True}),
    ("001", "231.10", "Customer credits and refunds payable", A.LIABILITY, {}),
    ("001", "239.10", "Sales tax payable", A.LIABILITY, {}),
    ("001", "291.10", "Fund balance - unassigned", A.FUND_BALANCE, {}),
    ("001", "321.10.00", "Business licenses", A.REVENUE, {}),
    ("001", "321.90.00", "Business license fire inspection fees", A.REVENUE, {}),
    ("001", "321.91.00", "Business license technology fees", A.REVENUE, {}),
    ("001", "322.30.00", "Animal licenses", A.REVENUE, {}),
    ("001", "341.62.00", "Printing and duplicating services", A.REVENUE, {}),
    ("001", "341.70.00", "Sales of merchandise", A.REVENUE, {}),
    ("001", "359.90.00", "Miscellaneous penalties - license late fees", A.REVENUE, {}),
    ("001", "369.81.00", "Cashier overages and shortages", A.REVENUE, {}),
    ("001", "369.91.00", "Other miscellaneous revenue - NSF fees", A.REVENUE, {}),
    ("001", "369.90.00", "Other miscellaneous revenue", A.REVENUE, {}),
    ("001", "514.23.40", "Customer services supplies", A.EXPENDITURE, {}),
    ("401", "122.10", "Utility customer receivables - water", A.ASSET, {"is_control": True}),
    ("401", "343.40.00", "Water sales", A.REVENUE, {}),
    ("402", "343.50.00", "Sewer charges", A.REVENUE, {}),
    ("403", "343.10.00", "Storm drainage fees", A.REVENUE, {}),
]
# code, name, default amount, [(fund, account code, percent or None, fixed or None)]
FEE_CODES = [
    ("BL-GEN", "Business license fee", None, [("001", "321.10.00", 100, None)]),
    ("BL-FIRE", "Fire inspection fee", "112.93", [("001", "321.90.00", 100, None)]),
    ("BL-TECH", "Technology fee", "1.00", [("001", "321.91.00", 100, None)]),
    ("BL-PEN", "Business license late penalty", None, [("001", "359.90.00", 100, None)]),
    ("BL-HOME", "Home occupation license", None, [("001", "321.10.00", 100, None)]),
    ("BL-RENT", "Rental housing license", None, [("001", "321.10.00", 100, None)]),
    ("BL-CONT", "Outside contractor license", None, [("001", "321.10.00", 100, None)]),
    ("UT-PAY", "Utility payment", None, [("401", "122.10", 100, None)]),
    ("AR-PAY", "Accounts receivable payment", None, [("001", "121.10", 100, None)]),
    ("NSF-FEE", "Returned check (NSF) fee", "40.00", [("001", "369.91.00", 100, None)]),
    ("RC-PAY", "Returned check repayment", None, [("001", "122.40", 100, None)]),
    ("COPY", "Copies (per page)", "0.15", [("001", "341.62.00", 100, None)]),
    ("PET", "Pet license", "30.00", [("001", "322.30.00", 100, None)]),
    (
        "MERCH",
        "Kent wear and merchandise",
        None,
        [
            ("001", "341.70.00", Decimal("91.9540"), None),
            ("001", "239.10", Decimal("8.0460"), None),
        ],
    ),
    ("MISC", "Miscellaneous revenue", None, [("001", "369.90.00", 100, None)]),
]


@transaction.atomic
def seed(stdout) -> None:
    funds = {}
    for code, name in FUNDS:
        funds[code], _ = Fund.objects.get_or_create(code=code, defaults={"name": name})
    accounts = {}
    for fund, code, name, kind, flags in ACCOUNTS:
        accounts[(fund, code)], _ = GLAccount.objects.get_or_create(
            fund=funds[fund], code=code, defaults={"name": name, "account_type": kind, **flags}
        )
    for code, name, default, distribution in FEE_CODES:
        fee, created = FeeCode.objects.get_or_create(
            code=code,
            defaults={"name": name, "default_amount": Decimal(default) if default else None},
        )
        if created:
            for fund, account, percent, fixed in distribution:
                FeeDistribution.objects.create(
                    fee_code=fee,
                    account=accounts[(fund, account)],
                    percent=Decimal(percent) if percent is not None else None,
                    fixed_amount=Decimal(fixed) if fixed is not None else None,
                )
    year = timezone.localdate().year
    periods_ensure_year(year=year - 1)
    periods_ensure_year(year=year)
    stdout.write(
        f"  ledger: {len(FUNDS)} funds, {len(ACCOUNTS)} accounts, {len(FEE_CODES)} fee codes"
    )
