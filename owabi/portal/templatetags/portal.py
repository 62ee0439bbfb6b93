"""Template helpers for accessible form fields: each input names its help and error texts
(aria-describedby) and says when it is invalid, so a screen reader reads the error with the field."""

from __future__ import annotations

from django import template
from django.forms import BoundField
from django.utils.safestring import SafeString
from django.utils.translation import get_language

register = template.Library()


@register.filter
def widget(field: BoundField, extra: str = "") -> SafeString:
    """The field's input with aria attributes; `extra` is "autocomplete=…" or "inputmode=…" pairs
    separated by "|"."""
    attrs: dict[str, str | bool] = {}
    described = []
    if field.help_text:
        described.append(f"{field.auto_id}_help")
    if field.errors:
        described.append(f"{field.auto_id}_error")
        attrs["aria-invalid"] = "true"
    if described:
        attrs["aria-describedby"] = " ".join(described)
    for pair in filter(None, extra.split("|")):
        name, _, value = pair.partition("=")
        attrs[name] = value
    return field.as_widget(attrs=attrs)


@register.filter
def yen(value: int) -> str:
    return f"{value:,}"


@register.filter
def honorific(name: str) -> str:
    """A person's name as addressed: "山田 太郎 様" in Japanese, the name alone in English."""
    return name if (get_language() or "ja").startswith("en") else f"{name} 様"
