from django.urls import include, path

app_name = "licensing"

urlpatterns = [
    # Businesses, applications and reviews, licenses, renewals, imports.
    path("", include("licensing.urls_work")),
    # Licensing reports and the growth workbook.
    path("reports/", include("licensing.urls_reports")),
]
