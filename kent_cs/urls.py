"""The project's URLs: the core's pages and each app's URLs under its prefix."""

from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path

from kent_cs import views

urlpatterns = [
    path("", views.home, name="home"),
    path("login/", views.SignInView.as_view(), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("login/second-factor/", views.second_factor, name="two-factor"),
    path("password/", auth_views.PasswordChangeView.as_view(), name="password_change"),
    path(
        "password/done/", auth_views.PasswordChangeDoneView.as_view(), name="password_change_done"
    ),
    path("healthz", views.healthz, name="healthz"),
    path("activity/", views.activity, name="activity"),
    path("jobs/<int:pk>/", views.job_detail, name="job-detail"),
    path("jobs/<int:pk>/download/", views.job_download, name="job-download"),
    path("jobs/<int:pk>/retry/", views.job_retry_view, name="job-retry"),
    path("ledger/", include("ledger.urls")),
    path("counter/", include("cashiering.urls")),
    path("licensing/", include("licensing.urls")),
    path("audit/", include("audit.urls")),
    path("admin/", admin.site.urls),
]

handler403 = "kent_cs.views.error_403"
handler404 = "kent_cs.views.error_404"
handler500 = "kent_cs.views.error_500"
