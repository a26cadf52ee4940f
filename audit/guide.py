"""The user guide (docs/user-guide.md) in the app: split at its "## " headings into the
opening, one section per role and the training course, each rendered from Markdown with
raw HTML left as text."""

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from django.conf import settings
from django.utils.safestring import SafeString, mark_safe
from django.utils.text import slugify
from markdown_it import MarkdownIt

# Role slug -> the guide's heading for it, in the guide's order.
ROLE_SECTIONS = {
    "cashier": "Cashier",
    "technician": "Accounting technician",
    "supervisor": "Supervisor",
    "administrator": "Administrator",
}
GROUP_ROLES = {
    "Cashier": "cashier",
    "Accounting Technician": "technician",
    "Supervisor": "supervisor",
    "Administrator": "administrator",
}
TRAINING_SECTION = "Training course"
# Pages whose help is a section of its own rather than the role's.
PAGE_SECTIONS = (("/audit/training/", TRAINING_SECTION),)


@dataclass(frozen=True)
class Section:
    title: str
    slug: str
    html: SafeString


@dataclass(frozen=True)
class Guide:
    opening: SafeString
    sections: dict[str, Section]


def _render(markdown: str) -> SafeString:
    # html=False: anything that looks like a tag in the guide is shown as text.
    parser = MarkdownIt("commonmark", {"html": False, "typographer": False})
    return mark_safe(parser.render(markdown))  # noqa: S308 - markdown-it escapes the text


def guide_path() -> Path:
    return Path(settings.BASE_DIR) / "docs" / "user-guide.md"


@lru_cache(maxsize=4)
def _parse(text: str) -> Guide:
    opening: list[str] = []
    parts: list[tuple[str, list[str]]] = []
    for line in text.splitlines():
        if line.startswith("## "):
            parts.append((line[3:].strip(), []))
        elif parts:
            parts[-1][1].append(line)
        elif not line.startswith("# "):
            opening.append(line)
    sections = {
        title: Section(title, slugify(title), _render("\n".join(body))) for title, body in parts
    }
    return Guide(_render("\n".join(opening)), sections)


def guide_load() -> Guide:
    return _parse(guide_path().read_text(encoding="utf-8"))


def role_of(user) -> str:
    """The guide's role for the user: their first role in the guide's order, else cashier."""
    held = {GROUP_ROLES.get(group.name) for group in user.groups.all()}
    return next((role for role in ROLE_SECTIONS if role in held), "cashier")


def section_for_page(path: str) -> str | None:
    """The guide section that explains the page at `path`, if it has one of its own."""
    return next((title for prefix, title in PAGE_SECTIONS if path.startswith(prefix)), None)
