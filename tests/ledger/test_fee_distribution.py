"""FeeCode.distribute: how a payment line is split over GL accounts, to the cent."""

import io
from decimal import Decimal

import pytest
from django.db import transaction
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ledger.demo import seed as seed_ledger
from ledger.models import FeeCode, FeeDistribution, GLAccount

D = Decimal
REVENUE_CODES = [
    "001.321.10.00",
    "001.321.90.00",
    "001.321.91.00",
    "001.322.30.00",
    "001.341.62.00",
    "001.341.70.00",
    "001.359.90.00",
    "001.369.90.00",
]


@pytest.fixture
def accounts(db):
    seed_ledger(io.StringIO())
    return {a.full_code: a for a in GLAccount.objects.select_related("fund")}


def fee_code(accounts, code: str, rows: list[tuple[str, str | None, str | None]]) -> FeeCode:
    """rows: (account full code, percent or None, fixed amount or None)."""
    fee = FeeCode.objects.create(code=code, name=code.title())
    for account, percent, fixed in rows:
        FeeDistribution.objects.create(
            fee_code=fee,
            account=accounts[account],
            percent=D(percent) if percent else None,
            fixed_amount=D(fixed) if fixed else None,
        )
    return fee


def split(fee: FeeCode, amount: str) -> list[tuple[str, Decimal]]:
    return [(account.full_code, part) for account, part in fee.distribute(D(amount))]


def test_a_single_account_takes_everything(accounts):
    fee = FeeCode.objects.get(code="BL-GEN")
    assert split(fee, "250.00") == [("001.321.10.00", D("250.00"))]


def test_three_way_thirds_add_up_to_the_cent(accounts):
    fee = fee_code(
        accounts,
        "THIRDS",
        [
            ("001.321.10.00", "33.3333", None),
            ("001.321.90.00", "33.3333", None),
            ("001.321.91.00", "33.3333", None),
        ],
    )
    parts = split(fee, "100.00")
    assert sum(part for _, part in parts) == D("100.00")
    assert sorted(part for _, part in parts) == [D("33.33"), D("33.33"), D("33.34")]
    assert {code for code, _ in parts} == {"001.321.10.00", "001.321.90.00", "001.321.91.00"}


def test_a_few_cents_over_many_accounts_never_makes_a_negative_part(accounts):
    fee = fee_code(accounts, "QUARTERS", [(code, "25", None) for code in REVENUE_CODES[:4]])
    parts = split(fee, "0.02")
    assert sum(part for _, part in parts) == D("0.02")
    assert all(part > 0 for _, part in parts)  # zero parts are left out, none negative
    assert len(parts) == 2


def test_merchandise_splits_sales_and_tax(accounts):
    fee = FeeCode.objects.get(code="MERCH")
    assert split(fee, "21.75") == [("001.341.70.00", D("20.00")), ("001.239.10", D("1.75"))]


def test_fixed_amounts_are_taken_first_and_the_rest_by_percent(accounts):
    fee = fee_code(
        accounts,
        "LIC-BUNDLE",
        [
            ("001.321.90.00", None, "112.93"),
            ("001.321.91.00", None, "1.00"),
            ("001.321.10.00", "60", None),
            ("001.359.90.00", "40", None),
        ],
    )
    assert split(fee, "213.93") == [
        ("001.321.90.00", D("112.93")),
        ("001.321.91.00", D("1.00")),
        ("001.321.10.00", D("60.00")),
        ("001.359.90.00", D("40.00")),
    ]


def test_exactly_the_fixed_total_leaves_nothing_for_the_percent_accounts(accounts):
    fee = fee_code(
        accounts,
        "EXACT",
        [("001.321.90.00", None, "112.93"), ("001.321.10.00", "100", None)],
    )
    assert split(fee, "112.93") == [("001.321.90.00", D("112.93"))]


def test_a_partial_payment_below_the_fixed_parts_is_shared_in_proportion(accounts):
    fee = fee_code(
        accounts,
        "PARTIAL",
        [
            ("001.321.90.00", None, "112.93"),
            ("001.321.91.00", None, "1.00"),
            ("001.321.10.00", "100", None),
        ],
    )
    parts = split(fee, "50.00")
    # 50 x 112.93 / 113.93 = 49.5611 and 50 x 1 / 113.93 = 0.4389; nothing to the license.
    assert parts == [("001.321.90.00", D("49.56")), ("001.321.91.00", D("0.44"))]


def test_fixed_parts_alone_share_an_overpayment_in_proportion(accounts):
    fee = fee_code(
        accounts,
        "FIXED-ONLY",
        [("001.321.90.00", None, "30.00"), ("001.321.91.00", None, "10.00")],
    )
    assert split(fee, "80.00") == [("001.321.90.00", D("60.00")), ("001.321.91.00", D("20.00"))]


@pytest.mark.parametrize("amount", ["213.93", "50.00", "0.01", "1000.01", "112.93"])
def test_a_negative_amount_mirrors_the_positive(accounts, amount):
    fee = fee_code(
        accounts,
        "MIRROR",
        [
            ("001.321.90.00", None, "112.93"),
            ("001.321.91.00", None, "1.00"),
            ("001.321.10.00", "33.3333", None),
            ("001.322.30.00", "33.3333", None),
            ("001.359.90.00", "33.3334", None),
        ],
    )
    positive = split(fee, amount)
    negative = split(fee, f"-{amount}")
    assert negative == [(code, -part) for code, part in positive]
    assert sum(part for _, part in negative) == -D(amount)


def test_zero_distributes_nothing(accounts):
    assert FeeCode.objects.get(code="MERCH").distribute(D("0.00")) == []


def test_a_fee_code_without_a_distribution_is_an_error(accounts):
    fee = FeeCode.objects.create(code="EMPTY", name="No accounts yet")
    with pytest.raises(ValueError, match="Fee code EMPTY has no GL distribution"):
        fee.distribute(D("10.00"))


# ------------------------------------------------------------------------- property

distribution_rows = st.tuples(
    st.lists(
        st.decimals(min_value=D("0.0001"), max_value=100, places=4),
        min_size=0,
        max_size=4,
    ),
    st.lists(
        st.integers(min_value=1, max_value=50_000).map(lambda c: D(c) / 100),
        min_size=0,
        max_size=3,
    ),
).filter(lambda rows: rows[0] or rows[1])
amounts = st.integers(min_value=-5_000_000, max_value=5_000_000).map(lambda c: D(c) / 100)


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(rows=distribution_rows, amount=amounts)
def test_any_distribution_adds_up_to_the_amount_with_one_sign(accounts, rows, amount):
    percents, fixed = rows
    with transaction.atomic():
        codes = iter(REVENUE_CODES)
        fee = fee_code(
            accounts,
            "PROP",
            [(next(codes), str(p), None) for p in percents]
            + [(next(codes), None, str(f)) for f in fixed],
        )
        parts = fee.distribute(amount)
        mirrored = fee.distribute(-amount)
        transaction.set_rollback(True)
    assert sum((part for _, part in parts), D("0.00")) == amount
    assert all(part != 0 and (part > 0) == (amount > 0) for _, part in parts)
    assert all(part.as_tuple().exponent == -2 for _, part in parts)
    assert [(a.pk, -p) for a, p in mirrored] == [(a.pk, p) for a, p in parts]
    fixed_total = sum(fixed, D(0))
    if percents and abs(amount) >= fixed_total:
        # Every fixed account gets exactly its fixed amount.
        fixed_parts = dict((a.full_code, abs(p)) for a, p in parts)
        for code, amount_fixed in zip(REVENUE_CODES[len(percents) :], fixed, strict=False):
            assert fixed_parts.get(code) == amount_fixed
