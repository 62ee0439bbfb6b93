"""The portal's "what to do" list: which items apply to a person follows from the categories of their
data that leaked, so nobody is told to watch a card statement when no card of theirs leaked. The wording
lives with the portal's templates (translated); this module decides only which items apply."""

from __future__ import annotations

from collections.abc import Iterable

_CARD = frozenset({"card_number", "card_expiry", "card_security_code", "card_holder"})

# item -> the categories that make it apply (empty: applies to everyone), in the order shown.
TODO_ITEMS: dict[str, frozenset[str]] = {
    "card_statement": _CARD,
    "card_reissue": _CARD,
    "bank_statement": frozenset({"bank_account"}),
    "change_password": frozenset({"login_credentials"}),
    "phone_calls": frozenset({"phone", "fax"}),
    "mail_scams": frozenset({"address", "postal_code"}),
    "email_phishing": frozenset({"email"}),
    "identity_questions": frozenset({"birth_date", "expected_delivery_date"}),
    "official_contact": frozenset(),
}


def todos_for(items: Iterable[str]) -> list[str]:
    """The to-do items for a person whose leaked categories are `items`, in a fixed order."""
    leaked = set(items)
    return [item for item, needs in TODO_ITEMS.items() if not needs or needs & leaked]
