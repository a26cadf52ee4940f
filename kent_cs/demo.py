"""Demo users: one per role, plus a second cashier. Only ever created in demo mode."""

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group

from kent_cs.roles import Role

# username, first, last, role, password. Published in the README: demo mode only.
DEMO_USERS = [
    ("cashier", "Casey", "Nguyen", Role.CASHIER, "demo-cashier-2026"),
    ("cashier_b", "Jordan", "Reyes", Role.CASHIER, "demo-cashier-b-2026"),
    ("technician", "Taylor", "Brooks", Role.TECHNICIAN, "demo-technician-2026"),
    ("supervisor", "Morgan", "Ellis", Role.SUPERVISOR, "demo-supervisor-2026"),
    ("admin", "Alex", "Park", Role.ADMINISTRATOR, "demo-admin-2026"),
]


def seed_users(stdout) -> None:
    User = get_user_model()
    for username, first, last, role, password in DEMO_USERS:
        user, created = User.objects.get_or_create(
            username=username,
            defaults={"first_name": first, "last_name": last, "email": f"{username}@example.org"},
        )
        if created:
            user.set_password(password)
            user.is_staff = role == Role.ADMINISTRATOR
            user.is_superuser = False
            user.save()
            stdout.write(f"  user {username} ({role})")
        user.groups.add(Group.objects.get(name=str(role)))
