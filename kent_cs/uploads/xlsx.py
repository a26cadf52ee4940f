"""Excel .xlsx uploads: the archive checks (unpacked size and compression ratio limits), the
worksheet chosen, and its records.
"""

import zipfile
import zlib
from collections.abc import Iterator
from typing import Any

from kent_cs.uploads.files import _DAMAGED, _size_text
from kent_cs.uploads.results import UploadRefused

# A real worksheet's XML compresses 5-50:1; deflate cannot do better than about 1000:1.
XLSX_MAX_COMPRESSION_RATIO = 200


_RATIO_CHECK_FLOOR = 1024 * 1024  # small parts may have any ratio


def _check_xlsx_archive(
    archive: zipfile.ZipFile, *, max_members: int, max_unpacked_bytes: int, max_ratio: int
) -> None:
    """Refuse zip bombs and oddities from the zip directory, before openpyxl opens it.

    zipfile never inflates a part past the size its directory entry declares, so the
    declared sizes checked here bound what openpyxl can unpack.
    """
    infos = archive.infolist()
    if len(infos) > max_members:
        raise UploadRefused(
            f"The Excel file is made of {len(infos):,} parts, more than the {max_members:,} "
            "a workbook may have. Save a copy with only the sheet to import and upload that."
        )
    if any(info.flag_bits & 0x1 for info in infos):
        raise UploadRefused(
            "The Excel file has encrypted parts and cannot be read. Save it again without "
            "a password and upload that."
        )
    unpacked = sum(info.file_size for info in infos)
    if unpacked > max_unpacked_bytes:
        raise UploadRefused(
            f"The Excel file unpacks to {_size_text(unpacked)}, more than the "
            f"{_size_text(max_unpacked_bytes)} allowed. Upload a smaller workbook."
        )
    for info in infos:
        if info.file_size > _RATIO_CHECK_FLOOR and info.file_size > max_ratio * max(
            info.compress_size, 1
        ):
            raise UploadRefused(
                "The Excel file is compressed far more than a real workbook can be "
                f"({info.file_size // max(info.compress_size, 1):,} to 1), so it is refused."
            )
    # Workbook XML never declares a DTD; one is a sign of an entity-expansion attack.
    for info in infos:
        if info.filename.endswith((".xml", ".rels", ".vml")):
            try:
                with archive.open(info) as part:
                    start = part.read(4096)
            except (zipfile.BadZipFile, OSError, zlib.error, NotImplementedError) as exc:
                raise UploadRefused(_DAMAGED) from exc
            if b"<!DOCTYPE" in start or b"<!ENTITY" in start:
                raise UploadRefused(
                    "The Excel file contains XML declarations that real workbooks never "
                    "have, so it is refused."
                )


def _xlsx_records(worksheet: Any) -> Iterator[tuple[int, list[Any]]]:
    # With the dimensions reset, openpyxl reads every cell and yields one tuple per
    # sheet row, empty rows included, so the count is the row number Excel shows.
    worksheet.reset_dimensions()
    rows = worksheet.iter_rows(values_only=True)
    line = 0
    while True:
        try:
            values = next(rows)
        except StopIteration:
            return
        except Exception as exc:  # openpyxl raises many types for a malformed sheet
            raise UploadRefused(_DAMAGED) from exc
        line += 1
        yield line, list(values)


def _pick_worksheet(workbook: Any, sheet: str | None) -> Any:
    worksheets = workbook.worksheets
    if not worksheets:
        raise UploadRefused("The workbook has no worksheets.")
    if sheet is None:
        return next((ws for ws in worksheets if ws.sheet_state == "visible"), worksheets[0])
    found = next((ws for ws in worksheets if ws.title == sheet), None)
    if found is None:
        found = next((ws for ws in worksheets if ws.title.casefold() == sheet.casefold()), None)
    if found is not None:
        return found
    names = ", ".join(f'"{ws.title}"' for ws in worksheets)
    raise UploadRefused(f'The workbook has no sheet named "{sheet}". Its sheets are: {names}.')
