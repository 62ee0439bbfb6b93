from django.urls import path

from owabi.backoffice import auth, payouts, requests_views, views

app_name = "staff"

urlpatterns = [
    path("login", auth.login, name="login"),
    path("login/code", auth.login_otp, name="login_otp"),
    path("logout", auth.logout, name="logout"),
    path("", views.home, name="home"),
    path("dashboard.csv", views.dashboard_csv, name="dashboard_csv"),
    path("claims", views.claims, name="claims"),
    path("claims/<str:reference>", views.claim, name="claim"),
    path("claims/<str:reference>/decide", views.decide_claim, name="decide_claim"),
    path("evidence/<int:pk>/<int:page>.png", views.evidence_page, name="evidence_page"),
    path("requests", requests_views.queue, name="requests"),
    path("requests/export.csv", requests_views.export, name="requests_export"),
    path("requests/<str:reference>", requests_views.detail, name="request"),
    path("requests/<str:reference>/take", requests_views.take, name="request_take"),
    path("requests/<str:reference>/release", requests_views.release, name="request_release"),
    path("requests/<str:reference>/complete", requests_views.complete, name="request_complete"),
    path("codes", views.codes, name="codes"),
    path("payouts", payouts.payouts_page, name="payouts"),
    path("payouts/create", payouts.create, name="payouts_create"),
    path("payouts/results", payouts.results, name="payouts_results"),
    path("payouts/<str:reference>", payouts.batch_page, name="payout_batch"),
    path("payouts/<str:reference>/approve", payouts.approve, name="payouts_approve"),
    path("payouts/<str:reference>/cancel", payouts.cancel, name="payouts_cancel"),
    path("payouts/<str:reference>/file", payouts.download, name="payouts_download"),
]
