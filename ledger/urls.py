from django.urls import path

from ledger import views

app_name = "ledger"

urlpatterns = [
    path("accounts/", views.chart_of_accounts, name="chart"),
    path("accounts/<int:pk>/", views.account_detail, name="account-detail"),
    path("entries/<int:number>/", views.entry_detail, name="entry-detail"),
    path("trial-balance/", views.trial_balance, name="trial-balance"),
]
