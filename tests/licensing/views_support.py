"""Helpers for the licensing screen tests."""

import re
import zlib

from django.contrib.messages import get_messages

_STREAM = re.compile(rb"stream\r?\n(.*?)\r?\nendstream", re.S)
_PAGE = re.compile(rb"/Type\s*/Page(?![A-Za-z])")
_TITLE = re.compile(rb"/Title\s*\(([^)]*)\)")


def pdf_page_count(data: bytes) -> int:
    """The pages of a PDF: its page objects, in the file or in compressed object streams
    (WeasyPrint compresses them; pypdf is not a dependency)."""
    assert data.startswith(b"%PDF-")
    found = len(_PAGE.findall(data))
    for match in _STREAM.finditer(data):
        try:
            found += len(_PAGE.findall(zlib.decompress(match.group(1))))
        except zlib.error:
            continue
    return found


def pdf_bookmarks(data: bytes) -> list[str]:
    """The titles of a PDF's outline, in order (WeasyPrint writes them as literal
    strings, in compressed object streams or in the file)."""
    titles = []
    for part in [data, *_streams(data)]:
        titles += [t.decode() for t in _TITLE.findall(part)]
    return titles


def _streams(data: bytes) -> list[bytes]:
    found = []
    for match in _STREAM.finditer(data):
        try:
            found.append(zlib.decompress(match.group(1)))
        except zlib.error:
            continue
    return found


def messages_of(response) -> list[str]:
    return [str(m) for m in get_messages(response.wsgi_request)]
