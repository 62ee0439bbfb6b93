"""Django's admin is for superusers only, behind the same second factor as the back office."""

from __future__ import annotations

from django.http import HttpRequest
from django_otp.admin import OTPAdminSite


class SuperuserOTPAdminSite(OTPAdminSite):
    def has_permission(self, request: HttpRequest) -> bool:
        return super().has_permission(request) and bool(request.user.is_superuser)
