"""Text uploads and CSV: decoding (with the encodings the product meets), control characters
refused, `read_text` for files that are not tables (BAI2, OFX, camt.053 bank statements),
and CSV delimiter sniffing and records.
"""

import codecs
import contextlib
import csv
import io
from collections.abc import Collection, Iterator

from kent_cs.uploads.files import (
    HEAD_BYTES,
    TEXT_KINDS,
    UploadSource,
    _archive_kind,
    _check_allowed,
    _open_archive,
    _wrong_kind,
    detect_kind,
    read_bytes,
)
from kent_cs.uploads.results import TextUpload, UploadIssue, UploadRefused


def _line_of(data: bytes | str, index: int) -> int:
    if isinstance(data, bytes):
        return data.count(b"\n", 0, index) + 1
    return data.count("\n", 0, index) + 1


def _decode(data: bytes) -> tuple[str, str]:
    """Decode text as UTF-8 with BOM, UTF-16 with BOM, UTF-8, then Windows-1252;
    returns the text and the encoding used."""
    if data.startswith(codecs.BOM_UTF8):
        attempts = [("utf-8-sig", "UTF-8")]
    elif data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        attempts = [("utf-16", "UTF-16")]
    else:
        attempts = [("utf-8", "UTF-8"), ("cp1252", "Windows-1252")]
    # The BOM is skipped by hand so that an error's position is a position in `data`.
    offset = len(codecs.BOM_UTF8) if attempts[0][0] == "utf-8-sig" else 0
    error = None
    for encoding, _ in attempts:
        try:
            text = data[offset:].decode("utf-8" if offset else encoding)
        except UnicodeDecodeError as exc:
            error = exc
            continue
        return _checked_text(text), encoding
    assert error is not None
    names = " or ".join(name for _, name in attempts)
    bad = offset + error.start
    raise UploadRefused(
        [
            UploadIssue(
                None if attempts[0][0] == "utf-16" else _line_of(data, bad),
                None,
                f"The file is not text in {names} (byte 0x{data[bad]:02X} cannot be read). "
                'Save it as UTF-8 text (in Excel: "CSV UTF-8") and upload it again.',
            )
        ]
    )


def _checked_text(text: str) -> str:
    nul = text.find("\x00")
    if nul >= 0:
        raise UploadRefused(
            [
                UploadIssue(
                    _line_of(text, nul),
                    None,
                    "The file contains a NUL character, so it is not a plain-text file. "
                    "Save it as CSV and upload it again.",
                )
            ]
        )
    return text.rstrip("\x1a")  # old DOS files end with Ctrl-Z


def read_text(
    source: UploadSource,
    *,
    allowed: Collection[str] = TEXT_KINDS,
    max_bytes: int | None = None,
) -> TextUpload:
    """An upload that must be text ("text": any plain text; "xml"), decoded, after the
    same size and content checks as `read_table`."""
    allowed = _check_allowed(allowed, TEXT_KINDS)
    data = read_bytes(source, max_bytes=max_bytes)
    kind = detect_kind(data[:HEAD_BYTES])
    if kind == "zip":
        with contextlib.suppress(UploadRefused):  # a damaged zip is refused as a zip
            kind = _archive_kind(_open_archive(data))
    if kind not in allowed:
        raise _wrong_kind(kind, allowed)
    text, encoding = _decode(data)
    return TextUpload(kind=kind, encoding=encoding, text=text, data=data)


_DELIMITERS = (",", ";", "\t", "|")


def _sniff_delimiter(text: str) -> str:
    """The candidate found the same number of times on the most records of the sample
    (quoted values ignored); a comma when nothing decides."""
    records: list[dict[str, int]] = []
    current = dict.fromkeys(_DELIMITERS, 0)
    in_quotes = False
    for char in text[: 64 * 1024]:
        if char == '"':
            in_quotes = not in_quotes
        elif in_quotes:
            continue
        elif char in "\r\n":
            if any(current.values()):
                records.append(current)
                current = dict.fromkeys(_DELIMITERS, 0)
                if len(records) >= 50:
                    break
        elif char in current:
            current[char] += 1
    if any(current.values()):
        records.append(current)
    best, best_score = ",", (0, 0)
    for delimiter in _DELIMITERS:
        seen = [record[delimiter] for record in records if record[delimiter]]
        if not seen:
            continue
        mode = max(set(seen), key=lambda n: (seen.count(n), n))
        score = (seen.count(mode), mode)
        if score > best_score:
            best, best_score = delimiter, score
    return best


def _csv_records(text: str, delimiter: str) -> Iterator[tuple[int, list[str]]]:
    """(line, cells) for each record; the line is where the record starts, counted in
    physical lines so a quoted value spanning lines does not shift later numbers."""
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, strict=True)
    last_line = 0
    try:
        for cells in reader:
            yield last_line + 1, cells
            last_line = reader.line_num
    except csv.Error as exc:
        line = last_line + 1
        reason = str(exc)
        if "unexpected end of data" in reason:
            message = 'A quoted value that starts here is never closed (a " is missing).'
        elif "field larger than field limit" in reason:
            message = f"A value is longer than {csv.field_size_limit():,} characters."
        else:
            message = (
                f'This line is not valid CSV ({reason}); a " inside a quoted value must '
                'be written twice ("").'
            )
        raise UploadRefused([UploadIssue(line, None, message)]) from exc
