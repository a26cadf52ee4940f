"""Training and the user guide, under /audit/ (joined into the audit namespace)."""

from django.urls import path

from audit import views_training as views

urlpatterns = [
    path("training/", views.course, name="training"),
    path("training/staff/", views.staff_progress, name="training-staff"),
    path("training/staff/<int:pk>/", views.staff_detail, name="training-staff-detail"),
    path("training/<slug:code>/", views.exercise_detail, name="training-exercise"),
    path("training/<slug:code>/start/", views.exercise_start, name="training-start"),
    path("training/<slug:code>/check/", views.exercise_check, name="training-check"),
    path("help/", views.help_page, name="help"),
    path("help/<slug:role>/", views.help_role, name="help-role"),
]
