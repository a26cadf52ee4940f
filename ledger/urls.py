"""The ledger's URLs (bank reconciliation's in ledger.urls_bank)."""

from django.urls import path

from ledger import urls_bank, views

app_name = "ledger"

urlpatterns = [
    path("accounts/", views.chart_of_accounts, name="chart"),
    path("accounts/<int:pk>/", views.account_detail, name="account-detail"),
    path("entries/<int:number>/", views.entry_detail, name="entry-detail"),
    path("entries/<int:number>/reverse/", views.entry_reverse, name="entry-reverse"),
    path("trial-balance/", views.trial_balance, name="trial-balance"),
    path(
        "trial-balance/<int:period_id>/xlsx/",
        views.trial_balance_xlsx,
        name="trial-balance-xlsx",
    ),
    path("trial-balance/<int:period_id>/pdf/", views.trial_balance_pdf, name="trial-balance-pdf"),
    path(
        "trial-balance/<int:period_id>/print/",
        views.trial_balance_print,
        name="trial-balance-print",
    ),
    path(
        "trial-balance/<int:period_id>/export/",
        views.trial_balance_export,
        name="trial-balance-export",
    ),
    path("periods/", views.periods, name="periods"),
    path("periods/<int:pk>/close/", views.period_close_view, name="period-close"),
    path("periods/<int:pk>/reopen/", views.period_reopen_view, name="period-reopen"),
]

urlpatterns += urls_bank.urlpatterns
