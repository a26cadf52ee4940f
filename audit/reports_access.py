"""Audit reports on who may do what and on money given back: sign-ins and failed
sign-ins, role and permission changes, license status history, refunds and write-offs.

Actors of tracked changes come from the audit context each change was made in (the
request's user, or the command's). A fixed number of queries per report.
"""

from collections import defaultdict

from django.db.models import Count, Q

from audit.access_history import (
    GroupPermissionLink,
    UserAccess,
    UserGroupLink,
    UserPermissionLink,
)
from audit.report_common import (
    Report,
    ReportParams,
    Section,
    event_model,
    local,
    money_sum,
    name,
)
from cashiering.models import RefundRequest
from kent_cs.models import AuthEvent
from kent_cs.reports import DATE, DATETIME, INTEGER, MONEY, TEXT, Column
from licensing.models import LicenseInvoice, LicenseStatusChange


def _context(event) -> tuple[str, str, str]:
    """(who, from where, why) of a tracked change."""
    metadata = (event.pgh_context.metadata if event.pgh_context_id else None) or {}
    who = metadata.get("username") or ("system" if metadata.get("source") else "")
    return who or "", metadata.get("ip") or "", metadata.get("reason") or ""


# --- sign-ins --------------------------------------------------------------------------

FAILURE_KINDS = [
    AuthEvent.Kind.FAILED,
    AuthEvent.Kind.LOCKED,
    AuthEvent.Kind.ALERT,
    AuthEvent.Kind.SECOND_FACTOR_FAILED,
]
SIGN_IN_COLUMNS = [
    Column("Username", TEXT, width=20),
    Column("Sign-ins", INTEGER),
    Column("Failed", INTEGER),
    Column("Locked out", INTEGER),
    Column("Second factor refused", INTEGER),
    Column("Alerts", INTEGER),
    Column("Sign-outs", INTEGER),
]
FAILURE_COLUMNS = [
    Column("Time", DATETIME),
    Column("Event", TEXT, width=34),
    Column("Username", TEXT, width=20),
    Column("Address", TEXT, width=16),
]


def sign_ins(params: ReportParams) -> Report:
    """Per username: sign-ins, failures, lockouts, refused codes, alerts and sign-outs in
    the range; then every failure, in time order. Two queries."""
    events = AuthEvent.objects.filter(params.in_window("created_at"))
    if params.cashier:
        events = events.filter(username__iexact=params.cashier.get_username())
    per_user: dict = defaultdict(lambda: defaultdict(int))
    for row in events.values("username", "kind").annotate(n=Count("id")).order_by():
        per_user[row["username"].lower()][row["kind"]] += row["n"]
    kinds = [
        AuthEvent.Kind.LOGIN,
        AuthEvent.Kind.FAILED,
        AuthEvent.Kind.LOCKED,
        AuthEvent.Kind.SECOND_FACTOR_FAILED,
        AuthEvent.Kind.ALERT,
        AuthEvent.Kind.LOGOUT,
    ]
    rows = [[username] + [per_user[username][k] for k in kinds] for username in sorted(per_user)]
    total = ["Total"] + [sum(r[i] for r in rows) for i in range(1, len(kinds) + 1)]
    failures = [
        [local(e.created_at), e.get_kind_display(), e.username, e.ip_address or ""]
        for e in events.filter(kind__in=FAILURE_KINDS).order_by("created_at", "pk")
    ]
    return Report(
        "sign-ins",
        "Sign-ins and failed sign-ins",
        params,
        [
            Section("By username", SIGN_IN_COLUMNS, rows, total),
            Section("Failed and refused sign-ins", FAILURE_COLUMNS, failures),
        ],
        figures=dict(
            zip(
                ["sign_ins", "failed", "locked", "otp", "alerts", "sign_outs"],
                total[1:],
                strict=True,
            )
        ),
    )


# --- role and permission changes -------------------------------------------------------

ROLE_COLUMNS = [
    Column("Time", DATETIME),
    Column("Change", TEXT, width=30),
    Column("Of", TEXT, width=22),
    Column("What", TEXT, width=40),
    Column("By", TEXT, width=20),
    Column("From", TEXT, width=16),
]
_LABELS = {
    "group.add": "Role given",
    "group.remove": "Role taken away",
    "permission.add": "Permission granted",
    "permission.remove": "Permission withdrawn",
    "user.create": "User created",
    "user.access": "Access flags changed",
}


def _permission_text(permission) -> str:
    if permission is None:
        return ""
    return f"{permission.content_type.app_label}.{permission.codename} ({permission.name})"


def role_changes(params: ReportParams) -> Report:
    """Roles given and taken away, permissions granted to and withdrawn from roles and
    users, users created and their active/staff/superuser flags changed. Four queries."""
    window = params.in_window("pgh_created_at")
    memberships = event_model(UserGroupLink, "group.add").objects.filter(window)
    role_perms = event_model(GroupPermissionLink, "permission.add").objects.filter(window)
    user_perms = event_model(UserPermissionLink, "permission.add").objects.filter(window)
    access = event_model(UserAccess, "user.access").objects.filter(window)
    if params.cashier:
        pk, username = params.cashier.pk, params.cashier.get_username()
        by_them = Q(pgh_context__metadata__user=pk)
        memberships = memberships.filter(Q(user_id=pk) | by_them)
        user_perms = user_perms.filter(Q(user_id=pk) | by_them)
        role_perms = role_perms.filter(by_them)
        access = access.filter(Q(username=username) | by_them)
    rows = []
    for e in memberships.select_related("user", "group", "pgh_context"):
        who, where, _ = _context(e)
        rows.append(
            [
                local(e.pgh_created_at),
                _LABELS[e.pgh_label],
                name(e.user),
                e.group.name if e.group else "",
                who,
                where,
            ]
        )
    for e in role_perms.select_related("group", "permission__content_type", "pgh_context"):
        who, where, _ = _context(e)
        rows.append(
            [
                local(e.pgh_created_at),
                _LABELS[e.pgh_label] + " to role",
                e.group.name if e.group else "",
                _permission_text(e.permission),
                who,
                where,
            ]
        )
    for e in user_perms.select_related("user", "permission__content_type", "pgh_context"):
        who, where, _ = _context(e)
        rows.append(
            [
                local(e.pgh_created_at),
                _LABELS[e.pgh_label] + " to user",
                name(e.user),
                _permission_text(e.permission),
                who,
                where,
            ]
        )
    for e in access.select_related("pgh_context"):
        who, where, _ = _context(e)
        flags = ", ".join(
            f"{label}: {'yes' if value else 'no'}"
            for label, value in (
                ("active", e.is_active),
                ("staff", e.is_staff),
                ("superuser", e.is_superuser),
            )
        )
        rows.append([local(e.pgh_created_at), _LABELS[e.pgh_label], e.username, flags, who, where])
    rows.sort(key=lambda r: (r[0], r[1], r[2]))
    counts: dict = defaultdict(int)
    for r in rows:
        counts[r[1]] += 1
    return Report(
        "role-changes",
        "Role and permission changes",
        params,
        [
            Section(
                "Summary",
                [Column("Change", TEXT, width=34), Column("Count", INTEGER)],
                [[label, n] for label, n in sorted(counts.items())],
                ["Total", len(rows)],
            ),
            Section("Changes", ROLE_COLUMNS, rows),
        ],
        figures={"changes": len(rows), **counts},
    )


# --- license history -------------------------------------------------------------------

LICENSE_COLUMNS = [
    Column("Changed", DATETIME),
    Column("License", TEXT, width=10),
    Column("Business", TEXT, width=30),
    Column("Action", TEXT, width=16),
    Column("From", TEXT, width=10),
    Column("To", TEXT, width=10),
    Column("Year", INTEGER),
    Column("Effective", DATE),
    Column("Reason", TEXT, width=40),
    Column("By", TEXT, width=20),
]


def license_history(params: ReportParams) -> Report:
    """Every change of a license's status or year in the range, with its reason and actor
    (blank: the system, e.g. a payment or the nightly expiry). One query."""
    changes = LicenseStatusChange.objects.filter(params.in_window("changed_at"))
    if params.cashier:
        changes = changes.filter(changed_by=params.cashier)
    rows = []
    by_status: dict = defaultdict(int)
    for c in changes.select_related("license__business", "changed_by").order_by("changed_at", "pk"):
        rows.append(
            [
                local(c.changed_at),
                str(c.license),
                c.license.business.legal_name,
                c.action,
                c.get_from_status_display() if c.from_status else "",
                c.get_to_status_display(),
                c.to_year,
                c.effective_on,
                c.reason,
                name(c.changed_by) or "system",
            ]
        )
        by_status[c.get_to_status_display()] += 1
    return Report(
        "license-history",
        "License history changes",
        params,
        [
            Section(
                "By new status",
                [Column("Status", TEXT, width=20), Column("Changes", INTEGER)],
                sorted([k, v] for k, v in by_status.items()),
                ["Total", len(rows)],
            ),
            Section("Changes", LICENSE_COLUMNS, rows),
        ],
        figures={"changes": len(rows), **by_status},
    )


# --- refunds and write-offs ------------------------------------------------------------

REFUND_COLUMNS = [
    Column("Refund", TEXT, width=8),
    Column("Requested", DATETIME),
    Column("Payee", TEXT, width=24),
    Column("Amount", MONEY),
    Column("Reason", TEXT, width=30),
    Column("Status", TEXT, width=20),
    Column("Requested by", TEXT, width=18),
    Column("Verified by", TEXT, width=18),
    Column("Decided by", TEXT, width=18),
    Column("Decided", DATETIME),
    Column("Note", TEXT, width=30),
]
WRITE_OFF_COLUMNS = [
    Column("Cancelled", DATETIME),
    Column("Invoice", TEXT, width=14),
    Column("Business", TEXT, width=30),
    Column("Amount written off", MONEY),
    Column("Reason", TEXT, width=40),
    Column("By", TEXT, width=20),
]
APPROVED = (RefundRequest.Status.APPROVED, RefundRequest.Status.EXPORTED)
WAITING = (RefundRequest.Status.REQUESTED, RefundRequest.Status.VERIFIED)


def refunds_and_write_offs(params: ReportParams) -> Report:
    """Refund requests requested or decided in the range with who requested, verified and
    decided them; write-offs: license invoices cancelled with nothing paid on them, the
    whole amount owed given up, with the reason and who cancelled. Two queries."""
    refunds = RefundRequest.objects.filter(
        params.in_window("requested_at") | params.in_window("decided_at")
    )
    if params.cashier:
        c = params.cashier
        refunds = refunds.filter(Q(requested_by=c) | Q(verified_by=c) | Q(decided_by=c))
    rows, sums = [], defaultdict(list)
    for r in refunds.select_related("requested_by", "verified_by", "decided_by").order_by("number"):
        rows.append(
            [
                str(r.number),
                local(r.requested_at),
                r.payee_name,
                r.amount,
                r.reason,
                r.get_status_display(),
                name(r.requested_by),
                name(r.verified_by),
                name(r.decided_by),
                local(r.decided_at),
                r.decision_note,
            ]
        )
        group = (
            "approved" if r.status in APPROVED else "waiting" if r.status in WAITING else "rejected"
        )
        sums[group].append(r.amount)
    cancellations = event_model(LicenseInvoice, "update").objects.filter(
        params.in_window("pgh_created_at"), status=LicenseInvoice.Status.CANCELLED
    )
    if params.cashier:
        cancellations = cancellations.filter(pgh_context__metadata__user=params.cashier.pk)
    write_offs, seen = [], set()
    for e in cancellations.select_related("business", "pgh_context").order_by(
        "pgh_created_at", "pgh_id"
    ):
        if e.pgh_obj_id in seen:
            continue  # a later event of an invoice already cancelled
        seen.add(e.pgh_obj_id)
        who, _, _ = _context(e)
        write_offs.append(
            [
                local(e.pgh_created_at),
                e.number,
                e.business.legal_name,
                e.total,
                e.cancelled_reason,
                who,
            ]
        )
    figures = {
        "requested": len(rows),
        "requested_total": money_sum(r[3] for r in rows),
        "approved": len(sums["approved"]),
        "approved_total": money_sum(sums["approved"]),
        "rejected": len(sums["rejected"]),
        "rejected_total": money_sum(sums["rejected"]),
        "waiting": len(sums["waiting"]),
        "waiting_total": money_sum(sums["waiting"]),
        "write_offs": len(write_offs),
        "write_offs_total": money_sum(w[3] for w in write_offs),
    }
    summary = Section(
        "Summary",
        [Column("Figure", TEXT, width=30), Column("Count", INTEGER), Column("Amount", MONEY)],
        [
            ["Refunds requested", figures["requested"], figures["requested_total"]],
            ["Approved", figures["approved"], figures["approved_total"]],
            ["Rejected", figures["rejected"], figures["rejected_total"]],
            ["Waiting", figures["waiting"], figures["waiting_total"]],
            ["Write-offs", figures["write_offs"], figures["write_offs_total"]],
        ],
    )
    return Report(
        "refunds-write-offs",
        "Refunds and write-offs",
        params,
        [
            summary,
            Section("Refunds", REFUND_COLUMNS, rows),
            Section(
                "Write-offs",
                WRITE_OFF_COLUMNS,
                write_offs,
                total=[None, "Total", "", figures["write_offs_total"], "", ""],
            ),
        ],
        notes=[
            "Write-offs are license invoices cancelled with nothing paid on them. Utility "
            "and AR balances are written off in their own billing systems, not here."
        ],
        figures=figures,
    )
