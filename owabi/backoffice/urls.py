from django.urls import path

from owabi.backoffice import auth, payouts, reports, requests_views, views

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
    path("report", reports.report, name="report"),
    path("report/assess", reports.assess, name="report_assess"),
    path("report/save", reports.save, name="report_save"),
    path("report/submitted", reports.submitted, name="report_submitted"),
    path("report/download", reports.download, name="report_download"),
    path("report/announcement/save", reports.announcement_save, name="report_announcement_save"),
    path("report/announcement/publish", reports.announcement_publish, name="report_announcement_publish"),
    path("search", views.search, name="search"),
    path("review", views.review_queue, name="review"),
    path("review/<int:pk>", views.review_pair, name="review_pair"),
    path("people/<uuid:public_id>/", views.person, name="person"),
    path("people/<uuid:public_id>/<str:action>", views.act, name="act"),
    path("payouts", payouts.payouts_page, name="payouts"),
    path("payouts/create", payouts.create, name="payouts_create"),
    path("payouts/results", payouts.results, name="payouts_results"),
    path("payouts/claims/<str:reference>/account", payouts.correct_account, name="payouts_account"),
    path("payouts/<str:reference>", payouts.batch_page, name="payout_batch"),
    path("payouts/<str:reference>/approve", payouts.approve, name="payouts_approve"),
    path("payouts/<str:reference>/cancel", payouts.cancel, name="payouts_cancel"),
    path("payouts/<str:reference>/file", payouts.download, name="payouts_download"),
]
