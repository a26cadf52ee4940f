"""What the counter benchmarks share: the counter's reference data, cashiers signed up
with the Cashier role and an open drawer each, and utility accounts indexed for payment.

Everything here is idempotent, so `--keep-db` reuses what an earlier run created.
"""

import io
from dataclasses import dataclass
from decimal import Decimal

from django.contrib.auth import get_user_model
from django.contrib.auth.hashers import make_password
from django.contrib.auth.models import Group
from django.utils import timezone

from cashiering.demo import seed_reference
from cashiering.models import CashierSession, Drawer, UtilityAccount
from cashiering.payables import utility_index_rows
from cashiering.selectors.counter import open_session_for
from cashiering.services.sessions import session_open
from cashiering.targets import index_bulk_upsert
from kent_cs import dates
from kent_cs.roles import Role

# Only ever set on users of the benchmark database.
CASHIER_PASSWORD = "bench-cashier-password-not-a-secret"
OPENING_COUNT = {"20.00": 5, "5.00": 10, "1.00": 20}


@dataclass(frozen=True)
class BenchCashier:
    user: object
    session: CashierSession

    @property
    def username(self) -> str:
        return self.user.get_username()


def counter_reference() -> None:
    """Tender types, drawers and counter fees as the demo sets them up (the benchmark
    database starts with the ledger's demo chart of accounts only)."""
    seed_reference(io.StringIO())


def cashiers(count: int) -> list[BenchCashier]:
    """`count` cashiers, each holding the Cashier role and an open session on a drawer of
    their own dated today (created, or the one a kept database already has)."""
    User = get_user_model()
    group = Group.objects.get(name=str(Role.CASHIER))
    password_hash = None
    found = []
    for index in range(1, count + 1):
        user, created = User.objects.get_or_create(
            username=f"bench-cashier-{index}",
            defaults={"first_name": "Bench", "last_name": f"Cashier {index}"},
        )
        if created:
            # One hash for all: hashing is deliberately slow, and the password is the same.
            password_hash = password_hash or make_password(CASHIER_PASSWORD)
            user.password = password_hash
            user.save(update_fields=["password"])
            user.groups.add(group)
        session = open_session_for(user)
        if session is None:
            drawer, _ = Drawer.objects.get_or_create(
                code=f"BENCH{index}",
                defaults={"name": f"Benchmark window {index}", "location": "Benchmark"},
            )
            session = session_open(
                cashier=user,
                drawer=drawer,
                business_date=dates.business_today(),
                opening_count=OPENING_COUNT,
            )
        found.append(BenchCashier(user=user, session=session))
    return found


def posting_accounts(cashier_index: int, count: int) -> list[str]:
    """Numbers of `count` utility accounts that only cashier `cashier_index` takes payments
    for, so concurrent cashiers never wait on each other's account rows (different
    customers at different windows). Created and indexed on first use."""
    numbers = [f"{950000 + cashier_index * 1000 + i:06d}-00" for i in range(count)]
    have = set(UtilityAccount.objects.filter(number__in=numbers).values_list("number", flat=True))
    new = [
        UtilityAccount(
            number=number,
            name=f"Bench Payer {cashier_index}-{i}",
            service_address=f"{1000 + i} Meeker St, Kent WA 98032",
            balance=Decimal("180.00"),
            balance_as_of=timezone.localdate(),
        )
        for i, number in enumerate(numbers)
        if number not in have
    ]
    if new:
        UtilityAccount.objects.bulk_create(new, batch_size=1000)
        index_bulk_upsert(utility_index_rows(new))
    return numbers
