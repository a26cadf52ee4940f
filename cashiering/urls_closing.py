"""URLs of the closing pages (joined into the cashiering namespace by cashiering/urls.py)."""

from django.urls import path

from cashiering.views import closing

urlpatterns: list = [
    # The cashier's blind count at close, and its result.
    path("sessions/<int:pk>/count/new/", closing.blind_close, name="blind-close"),
    path(
        "sessions/<int:pk>/count/check-row/",
        closing.blind_close_check_row,
        name="blind-close-check-row",
    ),
    path("sessions/<int:pk>/count/", closing.count_detail, name="session-count"),
    path("sessions/<int:pk>/count/approve/", closing.over_short_approve, name="over-short-approve"),
    path("sessions/<int:pk>/balance/", closing.session_balance, name="session-balance"),
    # The technician's daily balancing; the supervisor closes and reopens the day.
    path("balancing/", closing.day_index, name="balancing"),
    path("balancing/<str:business_date>/", closing.day_balancing, name="day-balancing"),
    path("balancing/<str:business_date>/close/", closing.day_close, name="day-close"),
    path("balancing/<str:business_date>/reopen/", closing.day_reopen, name="day-reopen"),
]
