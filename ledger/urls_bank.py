"""URLs of bank statements and reconciliation (joined into the ledger namespace)."""

from django.urls import path

from ledger import views_bank

urlpatterns: list = [
    path("bank/", views_bank.bank_accounts, name="bank-accounts"),
    path("bank/import/", views_bank.bank_import, name="bank-import"),
    path("bank/<int:pk>/", views_bank.bank_reconcile, name="bank-reconcile"),
    path("bank/<int:pk>/auto-match/", views_bank.bank_auto_match, name="bank-auto-match"),
    path("bank/<int:pk>/match/", views_bank.bank_match, name="bank-match"),
    path(
        "bank/statements/<int:pk>/explain/",
        views_bank.bank_statement_explain,
        name="bank-statement-explain",
    ),
    path("bank/matches/<int:pk>/undo/", views_bank.bank_match_undo, name="bank-match-undo"),
]
