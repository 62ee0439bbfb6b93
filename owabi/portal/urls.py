from django.urls import path

from owabi.portal import views

app_name = "portal"

urlpatterns = [
    path("", views.home, name="home"),
    path("signin", views.sign_in, name="sign_in"),
    path("signout", views.sign_out, name="sign_out"),
    path("check", views.check, name="check"),
    path("affected", views.affected, name="affected"),
    path("announcement", views.announcement, name="announcement"),
    path("faq", views.faq, name="faq"),
    path("language/<str:code>", views.language, name="language"),
    path("reminders/off/<str:token>", views.reminders_off, name="reminders_off"),
    path("me", views.me, name="me"),
    path("me/todo", views.todo, name="todo"),
    path("me/people/<int:person>/compensation", views.compensation, name="compensation"),
    path("me/requests/new", views.new_request, name="new_request"),
    path("me/claims/new", views.new_claim, name="new_claim"),
    path("me/claims/<str:reference>", views.claim, name="claim"),
]
