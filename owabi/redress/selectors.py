"""Reads of the redress domain, always through a signed-in notice: a person sees only what hangs off
their own notice's recipient, and a reference from another notice answers "not found"."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

from django.db.models import F, Q
from django.utils import timezone

from owabi.notices import selectors as notice_selectors
from owabi.notices.models import Notice
from owabi.redress.models import Call, Choice, Claim, GiftCode, LegalHold, Option, Request, TodoDone
from owabi.redress.todos import todos_for


def erased_on(incident_id: int) -> date | None:
    """The day retention crypto-shredded the incident's personal data (owabi.redress.retention), or
    None while the response runs: after it, the portal has nothing of anyone's to show."""
    hold = LegalHold.objects.filter(incident_id=incident_id).only("shredded_at").first()
    return timezone.localdate(hold.shredded_at) if hold else None


def catalog(incident_id: int) -> list[Option]:
    return list(Option.objects.filter(incident_id=incident_id, active=True))


def option(incident_id: int, key: str) -> Option | None:
    return Option.objects.filter(incident_id=incident_id, key=key, active=True).first()


def stock(option_id: int) -> int:
    return GiftCode.objects.filter(option_id=option_id, choice__isnull=True).count()


@dataclass(frozen=True)
class OptionStock:
    key: str
    kind: str
    chosen: int  # live choices (not cancelled or rejected)
    free: int | None  # codes left in the pool, for code options


def stock_counts(incident_id: int) -> list[OptionStock]:
    """Each active option's live choices and, for code options, the codes left in its pool."""
    return [
        OptionStock(
            option.key,
            option.kind,
            option.choices.exclude(status__in=_LIVE).count(),
            stock(option.pk) if option.kind == Option.Kind.CODE else None,
        )
        for option in catalog(incident_id)
    ]


@dataclass
class PersonStatus:
    person: notice_selectors.Person
    todos: list[tuple[str, bool]] = field(default_factory=list)  # (item, done)
    choice: Choice | None = None


_LIVE = (Choice.Status.CANCELLED, Choice.Status.REJECTED)


def overview(notice: Notice, language: str) -> list[PersonStatus]:
    """Each person on the notice with their to-do list (ticked or not) and compensation choice: two reads,
    each joined to the notice recipient's own subjects (by number), however many people it covers."""
    people = notice_selectors.people(notice, language)
    numbers = [person.number for person in people]
    done: set[tuple[int, str]] = set()
    choices: dict[int, Choice] = {}
    if notice.recipient_id is not None:
        mine = Q(
            subject__incident_id=notice.incident_id,
            subject__recipient_id=notice.recipient_id,
            subject__number__in=numbers,
        )
        done = set(TodoDone.objects.filter(mine).values_list("subject__number", "item"))
        choices = {
            choice.subject_number: choice
            for choice in Choice.objects.select_related("option")
            .filter(mine)
            .exclude(status__in=_LIVE)
            .annotate(subject_number=F("subject__number"))
        }
    out = []
    for person in people:
        items = todos_for(code for code, _ in person.items)
        todos = [(item, (person.number, item) in done) for item in items]
        out.append(PersonStatus(person, todos, choices.get(person.number)))
    return out


def requests_of(notice: Notice) -> list[Request]:
    if notice.recipient_id is None:
        return []
    return list(Request.objects.filter(recipient_id=notice.recipient_id).order_by("-created_at"))


def claims_of(notice: Notice) -> list[Claim]:
    if notice.recipient_id is None:
        return []
    return list(Claim.objects.filter(recipient_id=notice.recipient_id).order_by("-created_at"))


def claim_of(notice: Notice, reference: str) -> Claim | None:
    """The claim with this reference if it belongs to the notice's recipient; None for missing and for
    someone else's alike."""
    if notice.recipient_id is None:
        return None
    return Claim.objects.filter(recipient_id=notice.recipient_id, reference=reference.strip().upper()).first()


# --- Support console: everything of one person, for staff ------------------------------------------------
@dataclass
class PersonRedress:
    choices: list[Choice]
    requests: list[Request]
    claims: list[Claim]
    calls: list[Call]


def of_person(subject_id: int, recipient_id: int | None) -> PersonRedress:
    """The person's choices, claims and calls, and the requests about them or their recipient (oldest
    first)."""
    about = Q(subject_id=subject_id)
    if recipient_id is not None:
        about |= Q(recipient_id=recipient_id, subject__isnull=True)
    requests = Request.objects.filter(about)
    return PersonRedress(
        choices=list(
            Choice.objects.select_related("option").filter(subject_id=subject_id).order_by("created_at")
        ),
        requests=list(requests.order_by("created_at")),
        claims=list(Claim.objects.filter(subject_id=subject_id).order_by("created_at")),
        calls=list(Call.objects.select_related("staff").filter(subject_id=subject_id).order_by("created_at")),
    )
