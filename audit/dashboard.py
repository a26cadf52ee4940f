"""Home page cards of the exceptions dashboard: one per kind with something open, and the
total with the link to the exceptions page."""

from typing import Any

from django.urls import reverse

from audit.exceptions import exceptions_summary, may_see_exceptions


def dashboard_cards(user: Any) -> list[dict]:
    if not may_see_exceptions(user):
        return []
    summary = exceptions_summary(user=user)
    cards = [
        {
            "title": "Exceptions",
            "value": f"{summary.total:,} open" if summary.total else "None open",
            "note": f"{len(summary.open_lines)} of {len(summary.lines)} kinds need action",
            "url": reverse("audit:exceptions"),
            "link_text": "All exceptions",
        }
    ]
    for line in summary.open_lines:
        days = line.oldest_days
        cards.append(
            {
                "title": line.title,
                "value": f"{line.count:,}",
                "note": f"Oldest {days} day{'' if days == 1 else 's'}" if days is not None else "",
                "url": line.url or f"{reverse('audit:exceptions')}#items-{line.key}",
                "link_text": line.link_text or "Exceptions",
                "tone": "warning",
            }
        )
    return cards
