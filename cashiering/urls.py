from django.urls import path

from cashiering import urls_closing, urls_deposits, urls_returns
from cashiering.views import corrections, counter, imports, inquiry

app_name = "cashiering"

urlpatterns = [
    # The counter: a cashier's session, receipt entry, printing.
    path("", counter.my_session, name="my-session"),
    path("sessions/open/", counter.session_open_view, name="session-open"),
    path("sessions/", counter.session_list, name="sessions"),
    path("sessions/<int:pk>/", counter.session_detail, name="session-detail"),
    path("sessions/<int:pk>/close/", counter.session_close_view, name="session-close"),
    path("sessions/<int:pk>/receipt/", counter.receipt_new, name="receipt-new"),
    path("sessions/<int:pk>/receipt/post/", counter.receipt_post_view, name="receipt-post"),
    path("sessions/<int:pk>/receipt/line/", counter.receipt_line, name="receipt-line"),
    path("lookup/", counter.lookup, name="lookup"),
    path("receipts/<int:pk>/", counter.receipt_detail, name="receipt-detail"),
    path("receipts/<int:pk>/print/", counter.receipt_print, name="receipt-print"),
    path("receipts/<int:pk>/pdf/", counter.receipt_pdf, name="receipt-pdf"),
    # Corrections: void and reversal requests, supervisor decisions.
    path("receipts/<int:pk>/void/", corrections.void_request, name="void-request"),
    path("receipts/<int:pk>/reverse/", corrections.reversal_request, name="reversal-request"),
    path("corrections/", corrections.correction_list, name="corrections"),
    path("corrections/<int:pk>/approve/", corrections.approve, name="correction-approve"),
    path("corrections/<int:pk>/reject/", corrections.reject, name="correction-reject"),
    # Account inquiry for phone and counter questions.
    path("inquiry/", inquiry.inquiry_search, name="inquiry-search"),
    path("inquiry/<str:kind>/<str:ref>/", inquiry.inquiry, name="inquiry"),
    path("inquiry/<str:kind>/<str:ref>/notes/", inquiry.note_add, name="note-add"),
    # Loading utility accounts and AR invoices from the billing systems' files.
    path("import/", imports.import_accounts, name="import"),
]

urlpatterns += urls_closing.urlpatterns + urls_deposits.urlpatterns + urls_returns.urlpatterns
