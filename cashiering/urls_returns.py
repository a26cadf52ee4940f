"""URLs of the returned-check and refund pages (joined into the cashiering namespace by
cashiering/urls.py)."""

from django.urls import path

from cashiering.views import refunds, returns

urlpatterns: list = [
    # Returned (NSF) checks.
    path("returned-checks/", returns.returned_check_list, name="returned-checks"),
    path("returned-checks/<int:pk>/", returns.returned_check_detail, name="returned-check-detail"),
    path("returned-checks/record/", returns.returned_check_find, name="returned-check-find"),
    path(
        "returned-checks/record/<int:tender_id>/",
        returns.returned_check_new,
        name="returned-check-new",
    ),
    path("returned-checks/bank/", returns.returned_item_list, name="returned-items"),
    path(
        "returned-checks/bank/<int:pk>/process/",
        returns.returned_item_process,
        name="returned-item-process",
    ),
    path(
        "returned-checks/bank/<int:pk>/dismiss/",
        returns.returned_item_dismiss,
        name="returned-item-dismiss",
    ),
    # Refund requests.
    path("refunds/", refunds.refund_list, name="refunds"),
    path("refunds/new/<str:kind>/<str:ref>/", refunds.refund_new, name="refund-new"),
    path("refunds/<int:pk>/", refunds.refund_detail, name="refund-detail"),
    path(
        "refunds/<int:pk>/documents/<int:document_id>/",
        refunds.refund_document,
        name="refund-document",
    ),
    path("refunds/<int:pk>/verify/", refunds.refund_verify, name="refund-verify"),
    path("refunds/<int:pk>/approve/", refunds.refund_approve, name="refund-approve"),
    path("refunds/<int:pk>/reject/", refunds.refund_reject, name="refund-reject"),
    path("refunds/export/<str:fmt>/", refunds.refund_export, name="refund-export"),
    path(
        "refunds/batches/<str:batch>/<str:fmt>/",
        refunds.refund_batch_download,
        name="refund-batch",
    ),
]
