"""The licensing screens, mounted at /licensing/ in the "licensing" namespace."""

from django.urls import path

from licensing.views import applications, businesses, dossier, fees, imports, licenses, renewals

urlpatterns = [
    # Businesses and their contacts
    path("businesses/", businesses.business_search, name="business-search"),
    path("businesses/new/", businesses.business_create_view, name="business-create"),
    path("businesses/<int:pk>/", businesses.business_detail, name="business-detail"),
    path("businesses/<int:pk>/edit/", businesses.business_edit, name="business-edit"),
    path("businesses/<int:pk>/close/", businesses.business_close_view, name="business-close"),
    path("businesses/<int:pk>/reopen/", businesses.business_reopen_view, name="business-reopen"),
    path(
        "businesses/<int:pk>/history/",
        businesses.business_history_print,
        name="business-history-print",
    ),
    path(
        "businesses/<int:pk>/history.pdf",
        businesses.business_history_pdf,
        name="business-history-pdf",
    ),
    # The license history dossier (print view, PDF, XLSX)
    path("businesses/<int:pk>/dossier/", dossier.dossier_print, name="business-dossier-print"),
    path("businesses/<int:pk>/dossier.pdf", dossier.dossier_pdf, name="business-dossier-pdf"),
    path("businesses/<int:pk>/dossier.xlsx", dossier.dossier_xlsx, name="business-dossier-xlsx"),
    path(
        "businesses/<int:pk>/notices/",
        businesses.business_notices_print,
        name="business-notices-print",
    ),
    path(
        "businesses/<int:pk>/notices.pdf",
        businesses.business_notices_pdf,
        name="business-notices-pdf",
    ),
    path("businesses/<int:pk>/contacts/new/", businesses.contact_add_view, name="contact-add"),
    path("contacts/<int:pk>/edit/", businesses.contact_edit, name="contact-edit"),
    path("contacts/<int:pk>/remove/", businesses.contact_remove_view, name="contact-remove"),
    # Fees
    path("fees/preview/", fees.fee_preview_view, name="fee-preview"),
    # Applications and reviews
    path("applications/", applications.application_list, name="application-list"),
    path(
        "businesses/<int:pk>/apply/",
        applications.application_create,
        name="application-create",
    ),
    path("applications/<int:pk>/", applications.application_detail, name="application-detail"),
    path(
        "applications/<int:pk>/approve/",
        applications.application_approve_view,
        name="application-approve",
    ),
    path(
        "applications/<int:pk>/deny/",
        applications.application_deny_view,
        name="application-deny",
    ),
    path(
        "applications/<int:pk>/withdraw/",
        applications.application_withdraw_view,
        name="application-withdraw",
    ),
    path("reviews/<int:pk>/approve/", applications.review_approve, name="review-approve"),
    path("reviews/<int:pk>/reject/", applications.review_reject, name="review-reject"),
    # Licenses, certificates, invoices
    path("licenses/<int:pk>/", licenses.license_detail, name="license-detail"),
    path("licenses/<int:pk>/status/", licenses.license_status, name="license-status"),
    path(
        "licenses/<int:pk>/renewal-invoice/",
        licenses.license_renewal_invoice,
        name="license-renewal-invoice",
    ),
    path(
        "licenses/<int:pk>/certificate/",
        licenses.certificate_print,
        name="license-certificate",
    ),
    path(
        "licenses/<int:pk>/certificate.pdf",
        licenses.certificate_pdf,
        name="license-certificate-pdf",
    ),
    path("invoices/<int:pk>/", licenses.invoice_detail, name="invoice-detail"),
    # Renewals, notices, penalties
    path("renewals/", renewals.renewals, name="renewals"),
    path("renewals/runs/start/", renewals.renewal_run_start_view, name="renewal-run-start"),
    path("renewals/runs/<int:pk>/", renewals.renewal_run_detail, name="renewal-run-detail"),
    path(
        "renewals/runs/<int:pk>/resume/",
        renewals.renewal_run_resume_view,
        name="renewal-run-resume",
    ),
    path(
        "renewals/runs/<int:pk>/notices/",
        renewals.renewal_run_notices,
        name="renewal-run-notices",
    ),
    path(
        "renewals/<int:year>/notices/",
        renewals.renewal_notices_start,
        name="renewal-notices",
    ),
    path("renewals/outstanding/", renewals.renewals_outstanding, name="renewals-outstanding"),
    path(
        "renewals/outstanding.<str:fmt>",
        renewals.renewals_outstanding_export,
        name="renewals-outstanding-export",
    ),
    path("renewals/delinquency/", renewals.delinquency, name="delinquency"),
    path(
        "renewals/delinquency.<str:fmt>",
        renewals.delinquency_export,
        name="delinquency-export",
    ),
    path("renewals/penalties/", renewals.penalties_assess_start, name="penalties-assess"),
    # Imports
    path("import/", imports.license_import_view, name="license-import"),
    path(
        "import/template.<str:fmt>",
        imports.license_import_template_download,
        name="license-import-template-download",
    ),
    path(
        "import/<int:pk>/refused.csv",
        imports.license_import_refused_csv,
        name="license-import-refused-csv",
    ),
]
