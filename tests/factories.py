"""Test data builders. Fixed dates, never random ones."""

import io
from datetime import date
from decimal import Decimal

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group

from kent_cs.roles import Role

PASSWORD = "correct-horse-battery-staple"
TODAY = date(2026, 3, 16)  # a Monday in an open period


def make_user(username: str, role: Role | None = None, **extra):
    user = get_user_model().objects.create_user(
        username=username, password=PASSWORD, email=f"{username}@example.org", **extra
    )
    if role is not None:
        user.groups.add(Group.objects.get(name=str(role)))
        if role == Role.ADMINISTRATOR:
            user.is_staff = True
            user.save(update_fields=["is_staff"])
    return user


def seed_chart() -> dict:
    """The demo chart of accounts, fee codes and the 2025-2026 periods."""
    from cashiering.demo import seed_reference as seed_tenders
    from ledger.demo import seed as seed_ledger
    from ledger.models import GLAccount

    sink = io.StringIO()
    seed_ledger(sink)
    seed_tenders(sink)
    accounts = {a.full_code: a for a in GLAccount.objects.select_related("fund")}
    return accounts


def money(text: str) -> Decimal:
    return Decimal(text)
