"""Licensing reports, mounted at /licensing/reports/ in the "licensing" namespace."""

from django.urls import path

from licensing.views import reports

urlpatterns = [
    path("", reports.dashboard, name="report-dashboard"),
    path("new-licenses/", reports.new_licenses, name="report-new-licenses"),
    path("active-licenses/", reports.active_licenses, name="report-active-licenses"),
    path("revenue/", reports.revenue, name="report-revenue"),
    path("renewals/", reports.renewals, name="report-renewals"),
    path("delinquency/", reports.delinquency, name="report-delinquency"),
    path("growth.xlsx", reports.growth_xlsx, name="report-growth-xlsx"),
    path("tables/<slug:table>.csv", reports.table_csv, name="report-csv"),
    path("tables/<slug:table>.xlsx", reports.table_xlsx, name="report-xlsx"),
]
