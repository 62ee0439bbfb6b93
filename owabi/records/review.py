"""Resolution review: a person decides whether two records the matcher was unsure about are one person.

The decision is kept on the ReviewPair and applied by every later run of resolve
(owabi.records.resolve.clusters: "same" joins the two; "different" keeps them apart, also when a third
record would join them). It takes effect at the next run, which renumbers nothing that did not change."""

from __future__ import annotations

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from owabi.core import audit
from owabi.records.models import ReviewPair

DECISIONS = (ReviewPair.Decision.SAME, ReviewPair.Decision.DIFFERENT)


class ReviewError(ValueError):
    """A decision that cannot be recorded as given."""


def decide(*, pair: ReviewPair, decision: str, actor: str, reason: str) -> ReviewPair:
    """Record that the pair's records are the same person or different people. A pair may be decided
    again (a mistake corrected); each decision is audited with its reason."""
    if decision not in DECISIONS:
        raise ReviewError(_("同一人物か別人かを選んでください"))
    if not reason.strip():
        raise ReviewError(_("理由を記入してください"))
    with transaction.atomic():
        locked = ReviewPair.objects.select_for_update().get(pk=pair.pk)
        before = locked.decision
        locked.decision, locked.decided_by, locked.decided_at = decision, actor[:100], timezone.now()
        locked.save(update_fields=["decision", "decided_by", "decided_at"])
        audit.record(
            actor=actor,
            action="records.review",
            object_type="review_pair",
            object_id=locked.pk,
            reason=reason.strip(),
            data={
                "decision": decision,
                "before": before,
                "records": [locked.record_a_id, locked.record_b_id],
            },
        )
    return locked
