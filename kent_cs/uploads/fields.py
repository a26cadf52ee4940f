"""Form fields for uploads: a file field that reads a table or a text file with the checks of
kent_cs.uploads and reports their problems on the field.
"""

import functools
from collections.abc import Collection, Iterable, Mapping
from typing import Any

from django import forms
from django.conf import settings
from django.core.files.base import File
from django.utils.functional import lazy

from kent_cs.uploads.files import (
    _ACCEPT,
    TABLE_KINDS,
    TEXT_KINDS,
    _check_allowed,
    _size_text,
    _wanted,
)
from kent_cs.uploads.results import Table, TextUpload, UploadRefused
from kent_cs.uploads.tables import read_table
from kent_cs.uploads.text import read_text


class _CheckedUploadField(forms.FileField):
    def __init__(self, *, allowed: Collection[str], max_bytes: int | None, **kwargs: Any):
        self.allowed = tuple(allowed)
        self.max_bytes = max_bytes
        # Settings are read when the help text is shown, not when the form class loads.
        kwargs.setdefault("help_text", lazy(self._default_help_text, str)())
        super().__init__(**kwargs)

    def _default_help_text(self) -> str:
        limit = settings.UPLOAD_MAX_BYTES if self.max_bytes is None else self.max_bytes
        wanted = _wanted(self.allowed)
        return f"{wanted[0].upper()}{wanted[1:]} of up to {_size_text(limit)}."

    def widget_attrs(self, widget: forms.Widget) -> dict[str, Any]:
        attrs = super().widget_attrs(widget)
        accept = [_ACCEPT[kind] for kind in self.allowed if kind in _ACCEPT]
        if len(accept) == len(self.allowed) and not widget.is_hidden:
            attrs.setdefault("accept", ",".join(accept))
        return attrs

    def clean(self, data: Any, initial: Any = None) -> Any:
        uploaded = super().clean(data, initial)
        if not uploaded:
            return uploaded
        try:
            return self.read(uploaded)
        except UploadRefused as exc:
            raise exc.as_validation_error() from None

    def read(self, uploaded: File) -> Any:
        raise NotImplementedError


class TableUploadField(_CheckedUploadField):
    """A file input whose cleaned value is the `Table` read by `read_table`; a refused
    file shows each reason as a field error. Row parsing stays with the form or service:
    call `parse_rows` and add its refusal with `form.add_error(name, exc.as_validation_error())`.
    """

    def __init__(
        self,
        *,
        allowed: Collection[str] = TABLE_KINDS,
        required_columns: Iterable[str] = (),
        optional_columns: Iterable[str] = (),
        column_aliases: Mapping[str, Iterable[str] | str] | None = None,
        sheet: str | None = None,
        allow_no_rows: bool = False,
        max_bytes: int | None = None,
        **kwargs: Any,
    ):
        self._read_table = functools.partial(
            read_table,
            allowed=_check_allowed(allowed, TABLE_KINDS),
            required_columns=tuple(required_columns),
            optional_columns=tuple(optional_columns),
            column_aliases=dict(column_aliases or {}),
            sheet=sheet,
            allow_no_rows=allow_no_rows,
            max_bytes=max_bytes,
        )
        super().__init__(allowed=allowed, max_bytes=max_bytes, **kwargs)

    def read(self, uploaded: File) -> Table:
        return self._read_table(uploaded)


class TextUploadField(_CheckedUploadField):
    """A file input whose cleaned value is the `TextUpload` read by `read_text`."""

    def __init__(
        self,
        *,
        allowed: Collection[str] = TEXT_KINDS,
        max_bytes: int | None = None,
        **kwargs: Any,
    ):
        super().__init__(allowed=_check_allowed(allowed, TEXT_KINDS), max_bytes=max_bytes, **kwargs)

    def read(self, uploaded: File) -> TextUpload:
        return read_text(uploaded, allowed=self.allowed, max_bytes=self.max_bytes)
