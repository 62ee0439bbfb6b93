"""Regulator report drafts: the 9 items of 施行規則第8条, every figure equal to the live count it names
(after a response has really happened: e-mails sent, one bounced, sign-ins, a choice, a claim,
requests), saved versions kept with who and when, a submitted report frozen."""

from __future__ import annotations

import io
from datetime import date, timedelta

import pytest
from django.core.exceptions import ValidationError
from django.test import Client
from django.utils import timezone

from owabi.core.models import AuditEvent
from owabi.incidents.models import Incident
from owabi.notices import bounces
from owabi.notices.models import Engagement, Notice
from owabi.notices.sending import send_email
from owabi.records.models import LeakRecord, Recipient, SourceFile, Subject
from owabi.redress import services as redress
from owabi.redress.models import Choice, Claim, Request
from owabi.reports import drafts, figures, selectors, services
from tests.portal_support import PortalData, sign_in
from tests.test_backoffice import _png

pytestmark = pytest.mark.django_db(transaction=True)  # the senders are threads


@pytest.fixture
def responded(portal_data: PortalData) -> PortalData:
    """A response under way: every e-mail sent, one bounced, two people signed in, a choice, a claim,
    a deletion (done) and a misuse report."""
    incident = portal_data.incident
    assert send_email(incident=incident, actor="t").sent == 4  # Django's test mail backend
    bounced = Notice.objects.get(pk=portal_data.twin_b.pk)
    bounces.apply_reports(
        incident=incident, reports=[bounces.Report(bounced.message_id, "bounce", "5.1.1")], actor="t"
    )
    client = Client()
    sign_in(client, portal_data.adult)
    sign_in(Client(), portal_data.guardian)
    person = portal_data.people(portal_data.adult)[0]
    redress.choose(notice=portal_data.adult, person=person, option_key="emoney", actor="t")
    client.post(
        "/me/claims/new",
        {
            "person": str(person),
            "kind": "reissue_fee",
            "amount_yen": "1100",
            "description": "再発行",
            "bank_code": "0001",
            "branch_code": "001",
            "account_type": "1",
            "account_number": "7654321",
            "holder": "コバヤシ マコト",
            "agree": "on",
            "evidence": io.BytesIO(_png()),
        },
    )
    child = portal_data.people(portal_data.guardian)[0]
    deletion = redress.file_request(notice=portal_data.guardian, kind="delete", person=child, actor="t")
    Request.objects.filter(pk=deletion.pk).update(status=Request.Status.DONE)  # staff finished it
    redress.file_request(notice=portal_data.adult, kind="misuse", text="電話がありました", actor="t")
    return portal_data


def _live(incident: Incident) -> dict[str, int]:
    """Each figure counted here straight from the tables, independently of the report's code."""
    notices = Notice.objects.filter(incident=incident, reminder_of=None)
    requests = Request.objects.filter(incident=incident)
    claims = Claim.objects.filter(incident=incident)
    return {
        "subjects": Subject.objects.filter(incident=incident).count(),
        "records": LeakRecord.objects.filter(incident=incident).count(),
        "recipients": Recipient.objects.filter(incident=incident).count(),
        "minors": Subject.objects.filter(incident=incident, is_minor=True).count(),
        "guardians": Recipient.objects.filter(incident=incident, kind="guardian").count(),
        "unresolved": LeakRecord.objects.filter(incident=incident, membership__isnull=True).count(),
        "sources": SourceFile.objects.filter(incident=incident).count(),
        "notices_prepared": notices.exclude(status="cancelled").count(),
        "notices_sent": notices.filter(status__in=["sent", "bounced", "returned"]).count(),
        "delivered": notices.filter(status="sent").count(),
        "bounced_or_returned": notices.filter(status__in=["bounced", "returned"]).count(),
        "signed_in": Engagement.objects.filter(
            recipient__incident=incident, signed_in_at__isnull=False
        ).count(),
        "compensation_chosen": Choice.objects.filter(incident=incident)
        .exclude(status__in=["cancelled", "rejected"])
        .count(),
        "claims_filed": claims.count(),
        "claims_approved": claims.filter(status__in=["approved", "paid"]).count(),
        "claims_paid": claims.filter(status="paid").count(),
        "deletion_requests": requests.filter(kind="delete").count(),
        "deletions_done": requests.filter(kind="delete", status="done").count(),
        "misuse_reports": requests.filter(kind="misuse").count(),
    }


def test_every_figure_equals_the_live_count_it_names(responded: PortalData) -> None:
    incident = responded.incident
    before = timezone.now()
    draft = selectors.draft(incident, "final")  # type: ignore[arg-type]
    assert before <= draft.as_of <= timezone.now()
    live = _live(incident)  # type: ignore[arg-type]
    stated = {line.key: line.value for section in draft.sections for line in section.lines}
    assert stated == live
    assert set(stated) == set(figures.BY_KEY)  # every figure the report names is checked
    # And the response really happened (so the comparison is not of zeros).
    assert (live["notices_sent"], live["bounced_or_returned"], live["delivered"]) == (4, 1, 3)
    assert live["notices_prepared"] == 5  # the bounced e-mail's fallback letter (the twin has an address)
    assert (live["signed_in"], live["compensation_chosen"], live["claims_filed"]) == (2, 1, 1)
    assert (live["deletion_requests"], live["deletions_done"], live["misuse_reports"]) == (1, 1, 1)
    assert (live["subjects"], live["recipients"], live["records"], live["minors"]) == (5, 4, 5, 2)


def test_the_draft_has_the_9_items_and_the_leaked_items_present(responded: PortalData) -> None:
    draft = selectors.draft(responded.incident, "preliminary")  # type: ignore[arg-type]
    assert [section.title for section in draft.sections] == [title for _, title in drafts.ITEMS]
    assert draft.stage_label == "速報"
    items = {item.code: item.records for item in draft.sections[1].items}
    assert items["name"] == 5 and items["card_number"] == 3 and "health" not in items
    assert draft.situations == [("第2号", "不正に利用されることにより財産的被害が生じるおそれ")]
    assert "財産的被害のおそれ" in draft.sections[4].text  # the starting text for item 5
    assert draft.version is None


def test_saved_versions_are_kept_with_who_and_when(responded: PortalData) -> None:
    incident = responded.incident
    first = services.save_draft(
        incident=incident, stage="final", actor="staff:1", texts={"cause": "SQLインジェクション"}
    )  # type: ignore[arg-type]
    second = services.save_draft(
        incident=incident,  # type: ignore[arg-type]
        stage="final",
        actor="staff:2",
        texts={"prevention": "WAFの導入\r\n脆弱性診断の定期化"},
    )
    assert (first.number, second.number) == (1, 2)
    assert second.texts["cause"] == "SQLインジェクション"  # kept from the first
    assert second.texts["prevention"] == "WAFの導入\n脆弱性診断の定期化"
    assert [(v.number, v.saved_by) for v in selectors.versions(incident, "final")] == [
        (2, "staff:2"),
        (1, "staff:1"),
    ]  # type: ignore[arg-type]
    assert second.figures["values"] == _live(incident)  # type: ignore[arg-type]
    draft = selectors.draft(incident, "final")  # type: ignore[arg-type]
    assert draft.version == second and draft.sections[3].text == "SQLインジェクション"
    old = selectors.draft(incident, "final", version_number=1)  # type: ignore[arg-type]
    assert old.as_of == first.as_of and old.sections[7].text == drafts.TO_FILL
    assert AuditEvent.objects.filter(action="reports.save_draft").count() == 2
    # The preliminary report is a report of its own.
    assert selectors.versions(incident, "preliminary") == []  # type: ignore[arg-type]


def test_saved_figures_stay_as_they_were_while_the_live_ones_move(responded: PortalData) -> None:
    incident = responded.incident
    services.save_draft(incident=incident, stage="final", actor="staff:1", texts={})  # type: ignore[arg-type]
    redress.file_request(notice=responded.twin_a, kind="delete", actor="t")
    saved = selectors.draft(incident, "final", version_number=1)  # type: ignore[arg-type]
    now = selectors.draft(incident, "final")  # type: ignore[arg-type]
    assert (saved.values["deletion_requests"], now.values["deletion_requests"]) == (1, 2)


def test_a_submitted_report_is_frozen(responded: PortalData) -> None:
    incident = responded.incident
    with pytest.raises(ValidationError):  # nothing saved yet
        services.mark_submitted(
            incident=incident, stage="preliminary", actor="staff:1", submitted_on=date(2026, 11, 4)
        )  # type: ignore[arg-type]
    version = services.save_draft(incident=incident, stage="preliminary", actor="staff:1", texts={})  # type: ignore[arg-type]
    with pytest.raises(ValidationError):  # before the day of knowledge
        services.mark_submitted(
            incident=incident, stage="preliminary", actor="staff:1", submitted_on=date(2026, 10, 1)
        )  # type: ignore[arg-type]
    with pytest.raises(ValidationError):  # in the future
        services.mark_submitted(
            incident=incident,  # type: ignore[arg-type]
            stage="preliminary",
            actor="staff:1",
            submitted_on=timezone.localdate() + timedelta(days=1),
        )
    report = services.mark_submitted(
        incident=incident, stage="preliminary", actor="staff:1", submitted_on=date(2026, 11, 4)
    )  # type: ignore[arg-type]
    assert report.submitted_version == version and report.submitted_by == "staff:1"
    assert selectors.draft(incident, "preliminary").submitted_on == date(2026, 11, 4)  # type: ignore[arg-type]
    with pytest.raises(ValidationError):
        services.save_draft(incident=incident, stage="preliminary", actor="staff:1", texts={"cause": "x"})  # type: ignore[arg-type]
    with pytest.raises(ValidationError):
        services.mark_submitted(
            incident=incident, stage="preliminary", actor="staff:1", submitted_on=date(2026, 11, 5)
        )  # type: ignore[arg-type]


def test_unknown_parts_stages_and_oversized_texts_are_refused(incident: Incident) -> None:
    with pytest.raises(ValidationError):
        services.save_draft(incident=incident, stage="final", actor="t", texts={"name": "x"})
    with pytest.raises(ValidationError):
        services.save_draft(incident=incident, stage="interim", actor="t", texts={})
    with pytest.raises(ValidationError):
        services.save_draft(incident=incident, stage="final", actor="t", texts={"cause": "x" * 10_001})


def test_an_incident_with_no_data_yet_drafts_zeros(incident: Incident) -> None:
    draft = selectors.draft(incident, "preliminary")
    assert all(value == 0 for value in draft.values.values())
    assert draft.sections[1].items == [] and draft.situations == []
