"""Loading utility accounts and AR invoices from the billing systems' files."""

from django import forms
from django.conf import settings
from django.contrib.auth.decorators import permission_required
from django.shortcuts import render

from cashiering import imports
from kent_cs.uploads.results import UploadRefused


class ImportForm(forms.Form):
    kind = forms.ChoiceField(
        label="What the file holds",
        choices=imports.ImportKind.CHOICES,
        widget=forms.RadioSelect,
        initial=imports.ImportKind.UTILITY,
    )
    file = forms.FileField(
        label="File",
        widget=forms.ClearableFileInput(attrs={"accept": ".csv,.xlsx"}),
    )
    as_of = forms.DateField(
        label="Balances as of",
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}),
        help_text=(
            "The date the billing system made the file. Counter payments after this date "
            'are taken off its balances. For utility files, a "balance as of" column may '
            "give it instead."
        ),
    )
    # "Check file" sends dry_run=1, "Import" does not: both run the same import, one of
    # them without writing, so they share one URL and one view.
    dry_run = forms.BooleanField(required=False)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        limit = settings.UPLOAD_MAX_BYTES // (1024 * 1024)
        self.fields["file"].help_text = f"CSV or Excel .xlsx, up to {limit} MB."


@permission_required("cashiering.import_accounts", raise_exception=True)
def import_accounts(request):
    form = ImportForm(request.POST or None, request.FILES or None)
    summary, problems, status = None, [], 200
    problem_count = 0
    if request.method == "POST":
        status = 400
        if form.is_valid():
            kind = form.cleaned_data["kind"]
            upload = form.cleaned_data["file"]
            try:
                table = imports.read_import_table(kind, upload)
                summary = imports.IMPORTERS[kind](
                    table=table,
                    user=request.user,
                    as_of=form.cleaned_data["as_of"],
                    dry_run=form.cleaned_data["dry_run"],
                    file_name=upload.name,
                )
            except UploadRefused as exc:
                problems, problem_count = exc.issues, exc.problem_count
            else:
                status = 200
    return render(
        request,
        "cashiering/office/import.html",
        {
            "form": form,
            "summary": summary,
            "problems": problems,
            "problem_count": problem_count,
            "breadcrumbs": [("Import accounts and invoices", None)],
        },
        status=status,
    )
