"""Scheduled reports, under /audit/schedules/."""

from django.urls import path

from audit import views_schedules as views

urlpatterns = [
    path("schedules/", views.schedule_list, name="schedule-list"),
    path("schedules/new/", views.schedule_create, name="schedule-create"),
    path("schedules/<int:pk>/", views.schedule_detail, name="schedule-detail"),
    path("schedules/<int:pk>/edit/", views.schedule_edit, name="schedule-edit"),
    path("schedules/<int:pk>/deactivate/", views.schedule_deactivate, name="schedule-deactivate"),
    path("schedules/<int:pk>/activate/", views.schedule_activate, name="schedule-activate"),
    path("schedules/<int:pk>/send-now/", views.schedule_send_now, name="schedule-send-now"),
    path("deliveries/<int:pk>/download/", views.delivery_download, name="delivery-download"),
]
