from django.contrib import admin
from django.urls import include, path
from django.views.i18n import set_language

from owabi.api.views import api
from owabi.backoffice.admin_site import SuperuserOTPAdminSite
from owabi.core import views as core_views

admin.site.__class__ = SuperuserOTPAdminSite  # superusers only, with the second factor

urlpatterns = [
    path("healthz", core_views.healthz, name="healthz"),
    path("admin/", admin.site.urls),
    path("api/v1/", api.urls),
    path("staff/", include("owabi.backoffice.urls")),
    path("i18n/setlang/", set_language, name="set_language"),
    path("", include("owabi.portal.urls")),
]

handler404 = "owabi.portal.views.page_not_found"
