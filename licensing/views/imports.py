"""Import of license records from the system being replaced: "Check file" reads and
checks every line and reports each bad one, the defaults it would apply and the likely
duplicates, writing nothing; "Import" does the same and then writes the file (whole, or
its good lines when the technician chose that) once every default and likely duplicate
shown is confirmed. Also the template to fill in and the refused lines handed back."""

from django.contrib.auth.decorators import permission_required
from django.http import Http404
from django.shortcuts import render
from django.urls import reverse

from kent_cs.reports import csv_response, xlsx_response
from kent_cs.uploads.results import MAX_REPORTED_ISSUES, UploadRefused
from licensing.forms import LicenseImportForm
from licensing.import_checks import COLUMN_LABELS
from licensing.import_files import (
    refused_rows_csv,
    refused_rows_filename,
    template_csv,
    template_xlsx,
)
from licensing.imports import OPTIONAL_COLUMNS, REQUIRED_COLUMNS, license_import
from licensing.models import LicenseType
from licensing.models.licenses import license_display_number
from licensing.selectors.imports import license_import_get

IMPORT_LICENSES = "licensing.import_licenses"


@permission_required(IMPORT_LICENSES, raise_exception=True)
def license_import_view(request):
    form = LicenseImportForm(request.POST or None, request.FILES or None)
    result, problems, file_name = None, [], ""
    problem_count = 0
    if request.method == "POST" and form.is_valid():
        upload = form.cleaned_data["file"]
        file_name = upload.name
        try:
            result = license_import(
                source=upload,
                user=request.user,
                dry_run=form.cleaned_data["dry_run"],
                filename=file_name,
                mode=form.import_mode,
                choices=form.import_choices(),
                confirmed=form.cleaned_data["confirm"],
            )
        except UploadRefused as exc:
            problems, problem_count = exc.issues, exc.problem_count
    numbers, refused_problems, refused_url = [], [], ""
    if result is not None:
        if result.license_numbers:
            first, last = result.license_numbers[0], result.license_numbers[-1]
            numbers = [license_display_number(first), license_display_number(last)]
        refused_problems = [issue for refused in result.refused for issue in refused.issues][
            :MAX_REPORTED_ISSUES
        ]
        if result.record is not None and result.record.refused_count:
            refused_url = reverse("licensing:license-import-refused-csv", args=[result.record.pk])
    return render(
        request,
        "licensing/imports/import.html",
        {
            "form": form,
            "result": result,
            "problems": problems,
            "problem_count": problem_count,
            "refused_problems": refused_problems,
            "refused_problem_count": sum(len(r.issues) for r in result.refused) if result else 0,
            "refused_url": refused_url,
            "confirmed": set(form.cleaned_data.get("confirm", [])) if form.is_bound else set(),
            "file_name": file_name,
            "numbers": numbers,
            "required_columns": [COLUMN_LABELS[c] for c in REQUIRED_COLUMNS],
            "optional_columns": [COLUMN_LABELS[c] for c in OPTIONAL_COLUMNS],
            "license_types": LicenseType.objects.filter(is_active=True).order_by("code"),
            "breadcrumbs": [("Import license records", None)],
        },
    )


@permission_required(IMPORT_LICENSES, raise_exception=True)
def license_import_template_download(request, fmt: str):
    if fmt == "csv":
        return csv_response(template_csv(), "license-import-template.csv")
    if fmt == "xlsx":
        return xlsx_response(template_xlsx(), "license-import-template.xlsx")
    raise Http404("The template is CSV or XLSX.")


@permission_required(IMPORT_LICENSES, raise_exception=True)
def license_import_refused_csv(request, pk: int):
    record = license_import_get(pk=pk)
    if not record.refused_count:
        raise Http404("This import refused no lines.")
    return csv_response(refused_rows_csv(record), refused_rows_filename(record))
