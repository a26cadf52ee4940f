"""Import of license records from the system being replaced: "Check file" reads and
checks every line and reports each bad one, writing nothing; "Import" does the same and
then writes the whole file, or nothing."""

from django.contrib.auth.decorators import permission_required
from django.shortcuts import render

from kent_cs.uploads.results import UploadRefused
from licensing.forms import LicenseImportForm
from licensing.imports import OPTIONAL_COLUMNS, REQUIRED_COLUMNS, license_import
from licensing.models import LicenseType
from licensing.models.licenses import license_display_number


@permission_required("licensing.import_licenses", raise_exception=True)
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
            )
        except UploadRefused as exc:
            problems, problem_count = exc.issues, exc.problem_count
    numbers = []
    if result is not None and result.license_numbers:
        first, last = result.license_numbers[0], result.license_numbers[-1]
        numbers = [license_display_number(first), license_display_number(last)]
    return render(
        request,
        "licensing/imports/import.html",
        {
            "form": form,
            "result": result,
            "problems": problems,
            "problem_count": problem_count,
            "file_name": file_name,
            "numbers": numbers,
            "required_columns": REQUIRED_COLUMNS,
            "optional_columns": OPTIONAL_COLUMNS,
            "license_types": LicenseType.objects.filter(is_active=True).order_by("code"),
            "breadcrumbs": [("Import license records", None)],
        },
    )
