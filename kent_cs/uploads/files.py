"""The checks every uploaded file passes before it is read: the size limit, the type decided
by the content (never by the name), and the kinds a caller accepts.
"""

import codecs
import io
import re
import zipfile
import zlib
from collections.abc import Collection, Iterable
from typing import IO

from django.conf import settings
from django.core.files.base import File

from kent_cs.uploads.results import UploadRefused

UploadSource = File | IO[bytes] | bytes | bytearray | memoryview


TABLE_KINDS = ("csv", "xlsx")


TEXT_KINDS = ("text", "xml")


HEAD_BYTES = 8192


_CHUNK_BYTES = 64 * 1024


def _size_text(size: int) -> str:
    for unit, scale in (("GB", 1 << 30), ("MB", 1 << 20), ("KB", 1 << 10)):
        if size >= scale:
            return f"{size / scale:.1f}".removesuffix(".0") + f" {unit}"
    return f"{size:,} bytes"


def read_bytes(source: UploadSource, *, max_bytes: int | None = None) -> bytes:
    """The whole content of an upload, read in chunks and refused as soon as it passes
    the size limit (settings.UPLOAD_MAX_BYTES unless `max_bytes` is given), or if empty."""
    limit = settings.UPLOAD_MAX_BYTES if max_bytes is None else max_bytes
    too_large = f"The file is larger than {_size_text(limit)}, the most that can be uploaded."
    if isinstance(source, bytes | bytearray | memoryview):
        data = bytes(source)
        if len(data) > limit:
            raise UploadRefused(too_large)
    else:
        if isinstance(source, File):
            declared = getattr(source, "size", None)
            if isinstance(declared, int) and declared > limit:
                raise UploadRefused(too_large)
            chunks: Iterable[bytes] = source.chunks(_CHUNK_BYTES)
        else:
            chunks = iter(lambda: source.read(_CHUNK_BYTES), b"")
        parts, total = [], 0
        for chunk in chunks:
            total += len(chunk)
            if total > limit:
                raise UploadRefused(too_large)
            parts.append(chunk)
        data = b"".join(parts)
    if not data:
        raise UploadRefused("The file is empty.")
    return data


_SIGNATURES: tuple[tuple[bytes, str], ...] = (
    (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", "xls"),  # OLE2: .xls, .doc, encrypted .xlsx
    (b"PK\x03\x04", "zip"),
    (b"PK\x05\x06", "zip"),  # empty archive
    (b"PK\x07\x08", "zip"),  # spanned archive
    (b"\x1f\x8b", "gzip"),
    (b"7z\xbc\xaf\x27\x1c", "archive"),
    (b"Rar!\x1a\x07", "archive"),
    (b"\xfd7zXZ\x00", "archive"),
    (b"\x28\xb5\x2f\xfd", "archive"),  # zstandard
    (b"\x7fELF", "executable"),
    (b"\xcf\xfa\xed\xfe", "executable"),  # Mach-O
    (b"\xce\xfa\xed\xfe", "executable"),
    (b"\xfe\xed\xfa\xce", "executable"),
    (b"\xfe\xed\xfa\xcf", "executable"),
    (b"\xca\xfe\xba\xbe", "executable"),
    (b"\x89PNG\r\n\x1a\n", "image"),
    (b"\xff\xd8\xff", "image"),
    (b"GIF87a", "image"),
    (b"GIF89a", "image"),
    (b"II*\x00", "image"),
    (b"MM\x00*", "image"),
    (b"{\\rtf", "rtf"),
)


_TEXT_CONTROL_BYTES = frozenset({9, 10, 12, 13, 26})  # tab, newlines, form feed, DOS EOF


_HTML_START = re.compile(rb"<(!doctype\s+html|html|head|body|table|meta)\b", re.IGNORECASE)


def detect_kind(head: bytes) -> str:
    """What a file is, judged from its first bytes (pass at least HEAD_BYTES).

    Returns "text" (anything that reads as text, CSV included), "xml", "html", "zip"
    (an .xlsx is a zip: `read_table` looks inside to tell it from other zips), "xls",
    "pdf", "gzip", "archive", "executable", "image", "media", "rtf" or "binary".
    """
    if b"%PDF-" in head[:1024]:
        return "pdf"
    for signature, kind in _SIGNATURES:
        if head.startswith(signature):
            return kind
    if head.startswith(b"MZ") and b"\x00" in head[2:64]:
        return "executable"  # DOS/Windows program; the NULs keep a "MZ..." CSV header text
    if head[:4] == b"RIFF" and head[8:12] in (b"WEBP", b"AVI ", b"WAVE"):
        return "media"
    if head[4:8] == b"ftyp":
        return "media"  # MP4, MOV, HEIC photos
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        sample = head.decode("utf-16", errors="ignore").encode("utf-8", errors="ignore")
    else:
        sample = head[:4096]
        control = sum(1 for byte in sample if byte < 32 and byte not in _TEXT_CONTROL_BYTES)
        if sample and control / len(sample) > 0.05:
            return "binary"
    start = sample.removeprefix(codecs.BOM_UTF8).lstrip()
    if start.startswith(b"<?xml"):
        return "xml"
    if _HTML_START.match(start):
        return "html"
    if start.startswith(b"<") and (start[1:2].isalpha() or start[1:2] == b"!"):
        return "xml"
    return "text"


_KIND_DESCRIPTIONS = {
    "pdf": "a PDF file",
    "xls": "an Excel 97-2003 workbook (.xls) or a password-protected workbook",
    "xlsx": "an Excel .xlsx workbook",
    "xlsb": "an Excel binary workbook (.xlsb)",
    "ods": "an OpenDocument spreadsheet (.ods)",
    "odf": "an OpenDocument file",
    "docx": "a Word document",
    "pptx": "a PowerPoint presentation",
    "zip": "a ZIP archive",
    "gzip": "a gzip-compressed file",
    "archive": "a compressed archive",
    "executable": "a program (an executable file)",
    "image": "an image",
    "media": "a photo, sound or video file",
    "rtf": "a Rich Text (RTF) document",
    "html": "a web page (HTML)",
    "xml": "an XML file",
    "text": "a text file",
    "binary": "not a text file or a spreadsheet",
}


_KIND_HINTS = {
    "xls": "In Excel, use File > Save As > Excel Workbook (.xlsx), without a password.",
    "xlsb": "In Excel, use File > Save As > Excel Workbook (.xlsx).",
    "ods": "Save it as an Excel Workbook (.xlsx) or as CSV.",
    "html": (
        "Some systems export web pages with an .xls name: open it in Excel and save it "
        "as an Excel Workbook (.xlsx)."
    ),
}


_KIND_NAMES = {"csv": "CSV", "xlsx": "Excel .xlsx", "text": "text", "xml": "XML"}


_ACCEPT = {
    "csv": ".csv,text/csv",
    "xlsx": ".xlsx,application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}


_DAMAGED = (
    "The file is a damaged Excel workbook or ZIP archive and cannot be opened. Open it in "
    "Excel, save it again as an Excel Workbook (.xlsx), and upload that."
)


def _wanted(allowed: Collection[str]) -> str:
    names = [_KIND_NAMES[kind] for kind in _KIND_NAMES if kind in allowed]
    article = "an" if names[0] in ("Excel .xlsx", "XML") else "a"
    return f"{article} {' or '.join(names)} file"


def _wrong_kind(kind: str, allowed: Collection[str]) -> UploadRefused:
    description = _KIND_DESCRIPTIONS.get(kind, f"a {kind} file")
    if kind == "binary":
        message = f"This file is {description}; upload {_wanted(allowed)}."
    else:
        message = f"This is {description}; upload {_wanted(allowed)}."
    if kind in _KIND_HINTS and set(allowed) & set(TABLE_KINDS):
        message += " " + _KIND_HINTS[kind]
    return UploadRefused(message)


def _check_allowed(allowed: Collection[str], possible: Collection[str]) -> tuple[str, ...]:
    if isinstance(allowed, str):
        allowed = (allowed,)
    if not allowed or not set(allowed) <= set(possible):
        raise ValueError(f"allowed must be some of {sorted(possible)}, not {allowed!r}")
    return tuple(allowed)


def _open_archive(data: bytes) -> zipfile.ZipFile:
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
        archive.infolist()
    except (zipfile.BadZipFile, OSError, ValueError, EOFError) as exc:
        raise UploadRefused(_DAMAGED) from exc
    return archive


def _archive_kind(archive: zipfile.ZipFile) -> str:
    names = set(archive.namelist())
    if "[Content_Types].xml" in names and "xl/workbook.xml" in names:
        return "xlsx"
    if "xl/workbook.bin" in names:
        return "xlsb"
    if "word/document.xml" in names:
        return "docx"
    if "ppt/presentation.xml" in names:
        return "pptx"
    if "mimetype" in names:
        info = archive.getinfo("mimetype")
        if info.file_size <= 100 and not info.flag_bits & 0x1:
            try:
                mimetype = archive.read(info)
            except (zipfile.BadZipFile, OSError, zlib.error, NotImplementedError):
                return "zip"
            return "ods" if mimetype.endswith(b".spreadsheet") else "odf"
    return "zip"
