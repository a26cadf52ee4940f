"""Bank statement import and reconciliation pages."""

from django.contrib import messages
from django.contrib.auth import authenticate
from django.contrib.auth.decorators import permission_required
from django.core.exceptions import PermissionDenied
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST

from kent_cs.uploads.results import UploadRefused
from ledger import selectors_bank, services_bank, services_bank_matching
from ledger.forms_bank import (
    ManualMatchForm,
    MatchUndoForm,
    ReconcileFilterForm,
    StatementExplainForm,
    StatementImportForm,
)

READ = "ledger.view_bankstatementimport"
IMPORT = "ledger.import_bank_files"
RECONCILE = "ledger.reconcile_bank"


# ------------------------------------------------------------------------------ import


def _approving_supervisor(request, form: StatementImportForm):
    """The supervisor who signed the import of a file that does not add up with their own
    username and password (checked like a sign-in: a wrong one counts as a failure)."""
    data = form.cleaned_data
    try:
        approver = authenticate(
            request, username=data["supervisor"], password=data["supervisor_password"]
        )
    except PermissionDenied as exc:  # the supervisor's sign-ins are locked out
        raise services_bank.DiscrepancyApprovalError("supervisor_password", str(exc)) from None
    if approver is None:
        raise services_bank.DiscrepancyApprovalError(
            "supervisor_password", "That supervisor's username or password is wrong."
        )
    return approver


@permission_required(IMPORT, raise_exception=True)
def bank_import(request):
    """Upload a statement file. One that reads but does not add up is shown with its
    discrepancies and imported only when a supervisor signs for it on this form."""
    form = StatementImportForm(request.POST or None, request.FILES or None)
    result, problems, matched, status = None, [], {}, 200
    problem_count = 0
    pending = None  # services_bank.DiscrepancyApprovalNeeded: what is to be approved
    if request.method == "POST":
        status = 400
        if form.is_valid():
            upload = form.cleaned_data["file"]
            try:
                approval = None
                if form.signs_approval():
                    approval = services_bank.DiscrepancyApproval(
                        approved_by=_approving_supervisor(request, form),
                        reason=form.cleaned_data["approval_reason"],
                        sha256=form.cleaned_data["approved_sha256"] or "",
                    )
                result = services_bank.bank_statement_import(
                    source=upload,
                    file_name=upload.name,
                    user=request.user,
                    csv_mapping=form.csv_mapping,
                    csv_columns=form.columns() if form.csv_mapping else None,
                    approval=approval,
                )
            except UploadRefused as exc:
                problems, problem_count = exc.issues, exc.problem_count
            except services_bank.DiscrepancyApprovalNeeded as exc:
                pending = exc
            except services_bank.DiscrepancyApprovalError as exc:
                form.add_error(exc.field, exc.message)
                try:
                    pending = exc.needed or services_bank.bank_statement_review(
                        source=upload, csv_mapping=form.csv_mapping
                    )
                except UploadRefused as refused:
                    problems, problem_count = refused.issues, refused.problem_count
            else:
                status = 200
                matched = {
                    account: services_bank_matching.bank_auto_match(
                        bank_account=account, user=request.user
                    )
                    for account in result.bank_accounts
                }
                form = StatementImportForm()
    return render(
        request,
        "ledger/bank/import.html",
        {
            "form": form,
            "result": result,
            "matched": matched,
            "problems": problems,
            "problem_count": problem_count,
            "pending": pending,
            "recent": selectors_bank.bank_imports_recent(),
            "breadcrumbs": [
                ("Bank reconciliation", reverse("ledger:bank-accounts")),
                ("Import a bank statement", None),
            ],
        },
        status=status,
    )


# ---------------------------------------------------------------------- reconciliation


@permission_required(READ, raise_exception=True)
def bank_accounts(request):
    return render(
        request,
        "ledger/bank/accounts.html",
        {
            "accounts": selectors_bank.bank_accounts_for_reconciliation(),
            "breadcrumbs": [("Bank reconciliation", None)],
        },
    )


def _reconcile_page(
    request,
    account,
    *,
    match_form: ManualMatchForm | None = None,
    undo_form: tuple[int, MatchUndoForm] | None = None,
    explain_form: tuple[int, StatementExplainForm] | None = None,
    status: int = 200,
):
    filters = ReconcileFilterForm(request.GET or None)
    dates = filters.cleaned_data if filters.is_bound and filters.is_valid() else {}
    may_reconcile = request.user.has_perm(RECONCILE)
    match_form = match_form or ManualMatchForm()
    chosen_bank = set(match_form.cleaned_data.get("bank", [])) if match_form.is_bound else set()
    chosen_book = set(match_form.cleaned_data.get("book", [])) if match_form.is_bound else set()
    query = request.GET.copy()
    return render(
        request,
        "ledger/bank/reconcile.html",
        {
            "account": account,
            "filters": filters,
            **selectors_bank.reconciliation_pages(
                bank_account=account,
                date_from=dates.get("date_from"),
                date_to=dates.get("date_to"),
                page_numbers=request.GET,
            ),
            "may_reconcile": may_reconcile,
            "match_form": match_form,
            "chosen_bank": chosen_bank,
            "chosen_book": chosen_book,
            "undo_form": undo_form,
            "explain_form": explain_form,
            "unbalanced": selectors_bank.unbalanced_statements(bank_account=account),
            "query": query,
            "breadcrumbs": [
                ("Bank reconciliation", reverse("ledger:bank-accounts")),
                (account.name, None),
            ],
        },
        status=status,
    )


def _back(account, request) -> str:
    url = reverse("ledger:bank-reconcile", args=[account.pk])
    return f"{url}?{request.GET.urlencode()}" if request.GET else url


@permission_required(READ, raise_exception=True)
def bank_reconcile(request, pk: int):
    return _reconcile_page(request, selectors_bank.bank_account_get(pk=pk))


@require_POST
@permission_required(RECONCILE, raise_exception=True)
def bank_auto_match(request, pk: int):
    account = selectors_bank.bank_account_get(pk=pk)
    count = services_bank_matching.bank_auto_match(bank_account=account, user=request.user)
    if count:
        messages.success(request, f"Matched {count} bank line{'s' if count != 1 else ''}.")
    else:
        messages.info(request, "No bank line could be matched automatically.")
    return redirect(_back(account, request))


@require_POST
@permission_required(RECONCILE, raise_exception=True)
def bank_match(request, pk: int):
    account = selectors_bank.bank_account_get(pk=pk)
    form = ManualMatchForm(request.POST)
    if form.is_valid():
        try:
            match = services_bank_matching.bank_match_create(
                bank_account=account,
                bank_transaction_ids=form.cleaned_data["bank"],
                journal_line_ids=form.cleaned_data["book"],
                note=form.cleaned_data["note"],
                user=request.user,
            )
        except services_bank.BankError as exc:
            form.add_error(None, str(exc))
        else:
            messages.success(request, f"Matched {match.amount:,.2f} (match {match.pk}).")
            return redirect(_back(account, request))
    return _reconcile_page(request, account, match_form=form)


@require_POST
@permission_required(RECONCILE, raise_exception=True)
def bank_match_undo(request, pk: int):
    match = selectors_bank.bank_match_get(pk=pk)
    form = MatchUndoForm(request.POST)
    if form.is_valid():
        try:
            services_bank_matching.bank_match_undo(
                match=match, user=request.user, reason=form.cleaned_data["reason"]
            )
        except services_bank.BankError as exc:
            form.add_error(None, str(exc))
        else:
            messages.success(request, f"Match {match.pk} undone; its lines are unmatched again.")
            return redirect(_back(match.bank_account, request))
    return _reconcile_page(request, match.bank_account, undo_form=(match.pk, form))


@require_POST
@permission_required(RECONCILE, raise_exception=True)
def bank_statement_explain(request, pk: int):
    statement = selectors_bank.bank_statement_get(pk=pk)
    form = StatementExplainForm(request.POST)
    if form.is_valid():
        try:
            services_bank.bank_statement_explain(
                statement=statement, note=form.cleaned_data["note"], user=request.user
            )
        except services_bank.BankError as exc:
            form.add_error("note", str(exc))
        else:
            messages.success(
                request,
                f"Statement {statement.statement_id} explained. Its lines are still matched "
                "by hand only.",
            )
            return redirect(_back(statement.bank_account, request))
    return _reconcile_page(
        request, statement.bank_account, explain_form=(statement.pk, form), status=400
    )
