"""Template helpers of the back office: how codes and search roles are written for staff."""

from __future__ import annotations

from django import template

from owabi.notices import codes

register = template.Library()

FOUND_AS = {
    "subject": "本人として",
    "guardian": "保護者として",
    "contact": "メールアドレスで",
    "code": "登録コードで",
}


@register.filter
def grouped(code: str) -> str:
    """A registration code as printed: 7KQ2M-XH4TB-9RWCE."""
    return codes.group(code)


@register.filter
def found_as(roles: tuple[str, ...]) -> str:
    return "・".join(FOUND_AS.get(role, role) for role in roles)
