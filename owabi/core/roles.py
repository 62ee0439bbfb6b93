"""Staff roles and what each may do: one table, read by every staff view and by the services that
enforce a rule across people (four eyes). A role is a Django group of the same name; a user may hold
several. Superusers are not staff roles: they use Django's admin, behind the same second factor."""

from __future__ import annotations

from typing import Any

ROLES = ("agent", "reviewer", "finance", "manager", "admin")

# action -> the roles allowed to do it, each with why.
ACTIONS: dict[str, frozenset[str]] = {
    # Support: find a caller and see their data (each view of PII is audited).
    "search": frozenset({"agent", "reviewer", "manager", "admin"}),
    "view_person": frozenset({"agent", "reviewer", "manager", "admin"}),
    # Act for a caller: resend a notice, lift a lockout, record a choice or a request, log the call.
    "act_for_person": frozenset({"agent", "manager", "admin"}),
    # Resolution review: merge or keep apart two records.
    "review_resolution": frozenset({"reviewer", "manager", "admin"}),
    # Claims: review, open evidence, decide. Finance pays but never opens evidence.
    "review_claims": frozenset({"reviewer", "manager", "admin"}),
    "view_evidence": frozenset({"reviewer", "manager", "admin"}),
    # Requests (deletion, opt-out, corrections, misuse reports).
    "work_requests": frozenset({"agent", "manager", "admin"}),
    # Gift codes: stock, fulfilment lists.
    "manage_codes": frozenset({"finance", "manager", "admin"}),
    # Payouts: batches and 全銀 files (a second person approves each batch).
    "payouts": frozenset({"finance", "manager", "admin"}),
    # Regulator reports: confirm reportability, edit and version the 速報/確報, mark them submitted.
    "report": frozenset({"manager", "admin"}),
    # The dashboard's figures hold no PII.
    "dashboard": frozenset(ROLES),
}


def roles_of(user: Any) -> set[str]:
    if not getattr(user, "is_authenticated", False) or not user.is_active or not user.is_staff:
        return set()
    cached = getattr(user, "_owabi_roles", None)
    if cached is None:
        cached = set(user.groups.filter(name__in=ROLES).values_list("name", flat=True))
        user._owabi_roles = cached
    return cached


def can(user: Any, action: str) -> bool:
    """Whether `user` may do `action` (an ACTIONS key; an unknown action is a programming error)."""
    return bool(roles_of(user) & ACTIONS[action])
