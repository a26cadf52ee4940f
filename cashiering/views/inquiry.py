"""Account inquiry for phone and counter questions: find a payer, see what is owed, what
was paid and how each payment stands, returned checks, notes and the record's history."""

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import permission_required
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST

from cashiering import inquiry as selectors
from cashiering.errors import CashieringError
from cashiering.selectors.payers import payer_search
from cashiering.services.corrections import payer_note_add
from cashiering.validators import refuse_card_number


class SearchForm(forms.Form):
    q = forms.CharField(
        label="Account, invoice, name or address",
        max_length=100,
        required=False,
        widget=forms.TextInput(attrs={"type": "search", "autofocus": True}),
    )


class NoteForm(forms.Form):
    text = forms.CharField(
        label="Add a note",
        max_length=500,
        widget=forms.Textarea(attrs={"rows": 2}),
        validators=[refuse_card_number],
        error_messages={"required": "Write the note."},
        help_text="What was asked or promised. Never a card number.",
    )


def _inquiry_url(kind: str, ref: str) -> str:
    return reverse("cashiering:inquiry", args=[kind, ref])


@permission_required("cashiering.view_receipt", raise_exception=True)
def inquiry_search(request):
    form = SearchForm(request.GET or None)
    query = form.cleaned_data["q"] if form.is_bound and form.is_valid() else ""
    results = [
        (hit, _inquiry_url(hit.kind, hit.ref))
        for hit in payer_search(query, limit=selectors.SEARCH_LIMIT)
        if not hit.priced_by_quantity  # fee items are sold, not owed: nothing to ask about
    ]
    return render(
        request,
        "cashiering/office/inquiry_search.html",
        {
            "form": form,
            "query": query,
            "too_short": 0 < len(query.strip()) < selectors.SEARCH_MIN_LENGTH,
            "results": results,
            "limit": selectors.SEARCH_LIMIT,
            "breadcrumbs": [("Account inquiry", None)],
        },
    )


def _inquiry_page(request, kind: str, ref: str, note_form: NoteForm, *, status: int = 200):
    payer = selectors.payer_inquiry(
        kind=kind, ref=ref, user=request.user, page_number=request.GET.get("page")
    )
    return render(
        request,
        "cashiering/office/inquiry.html",
        {
            "payer": payer,
            "page": payer.payments,
            "timeline": payer.timeline,
            "note_form": note_form,
            "breadcrumbs": [
                ("Account inquiry", reverse("cashiering:inquiry-search")),
                (f"{payer.label} {payer.number}", None),
            ],
        },
        status=status,
    )


@permission_required("cashiering.view_receipt", raise_exception=True)
def inquiry(request, kind: str, ref: str):
    return _inquiry_page(request, kind, ref, NoteForm())


@require_POST
@permission_required("cashiering.view_receipt", raise_exception=True)
def note_add(request, kind: str, ref: str):
    form = NoteForm(request.POST)
    if form.is_valid():
        selectors.payer_exists_or_404(kind=kind, ref=ref)
        try:
            payer_note_add(kind=kind, ref=ref, text=form.cleaned_data["text"], user=request.user)
        except CashieringError as exc:
            form.add_error("text", list(exc.messages))
        else:
            messages.success(request, "Note added.")
            return redirect(_inquiry_url(kind, ref) + "#notes-heading")
    return _inquiry_page(request, kind, ref, form, status=400)
