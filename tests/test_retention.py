"""`owabi retention`: the dry run shows what will go and changes nothing; the run leaves no decryptable
personal data of the incident (every sealed value in the database opened and read back), clears its
keyed hashes, keeps the legal-hold record and another incident's data; a second run is harmless; open
work stops it."""

from __future__ import annotations

import json
import tomllib
from datetime import date
from io import StringIO
from pathlib import Path
from typing import Any

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection

from owabi.core import api_tokens, audit, keys, staff
from owabi.core.fields import open_values
from owabi.core.models import AuditEvent, Job
from owabi.incidents.models import Incident
from owabi.incidents.services import create_incident
from owabi.notices.models import Notice
from owabi.records.models import LeakRecord, LookupKey
from owabi.records.resolve.resume import folder_of
from owabi.records.services import import_file
from owabi.redress import affected, payouts, request_queue, review, services
from owabi.redress.models import Choice, ChoiceKey, Claim, LegalHold, Payee, Payout, PayoutBatch, Request
from owabi.redress.payees import check_account
from owabi.redress.uploads import Upload
from tests.conftest import REPO
from tests.portal_support import HEADER, ROWS, PortalData

pytestmark = pytest.mark.django_db

TODAY = date(2026, 12, 28)
NEW_YEAR = date(2027, 1, 4)
OTHER = (
    "O1,佐藤 健,サトウ ケン,1990-01-01,,,100-0001,東京都千代田区丸の内9-9,03-9999-8888,"
    "ken.sato@example.jp,,\n"
)
TYPED = (
    "カードを再発行しました",
    "7654321",
    "ｺﾊﾞﾔｼ ﾏｺﾄ",
    "GIFT-0000-SECRET",
    "不審な電話がありました",
    "削除済",
)


def _leaked() -> list[str]:
    """Every value of the test incident's rows that is someone's data: ids, card brands and card last 4
    aside (four digits alone name no one, and turn up in any hex digest of the audit trail)."""
    values = set(TYPED)
    for line in ROWS.splitlines():
        for value in line.split(",")[1:]:
            if len(value) >= 4 and value != "VISA" and not (value.isdigit() and len(value) < 7):
                values.add(value)
    return sorted(values)


def _everything_decrypted() -> str:
    """Every sealed value in the database, opened with the key ring, as one JSON text."""
    opened: list[Any] = []
    for model, column in keys.sealed_columns():
        table, pk, name = (connection.ops.quote_name(n) for n in (model._meta.db_table, "id", column.column))
        with connection.cursor() as cursor:
            cursor.execute(f"SELECT {pk}, {name} FROM {table} WHERE {name} IS NOT NULL")
            for row, blob in cursor.fetchall():
                value = column.open_row(bytes(blob), row)
                opened.append(value.decode("utf-8", "replace") if isinstance(value, bytes) else value)
    return json.dumps(opened, ensure_ascii=False)


def _sealed_raw() -> dict[str, list[tuple[int, bytes]]]:
    raw = {}
    for model, column in keys.sealed_columns():
        with connection.cursor() as cursor:
            cursor.execute(
                f"SELECT id, {connection.ops.quote_name(column.column)} FROM "
                f"{connection.ops.quote_name(model._meta.db_table)} ORDER BY id"
            )
            raw[f"{model._meta.label}.{column.name}"] = [
                (r, bytes(b) if b else b"") for r, b in cursor.fetchall()
            ]
    return raw


@pytest.fixture
def full(portal_data: PortalData, tmp_path: Path) -> dict[str, Any]:
    """The test incident with every kind of personal data: a gift code handed out (choice keys), a
    finished request with a note, a misuse report, a claim paid through a settled batch, an "am I
    affected?" search queued; and another incident, imported only."""
    data = portal_data
    worker = staff.add_staff(username="worker", roles=["agent", "finance"], actor="t").user
    boss = staff.add_staff(username="boss", roles=["manager"], actor="t").user
    adult = data.people(data.adult)[0]
    services.choose(notice=data.adult, person=adult, option_key="emoney", actor="t")
    deletion = services.file_request(notice=data.adult, kind="delete", person=adult, actor="t")
    misuse = services.file_request(
        notice=data.guardian, kind="misuse", text="不審な電話がありました", actor="t"
    )
    claim = services.file_claim(
        notice=data.adult,
        person=adult,
        kind="reissue_fee",
        amount_yen=1100,
        description="カードを再発行しました",
        occurred_on=None,
        account=check_account(
            bank_code="0001",
            branch_code="001",
            account_type="1",
            account_number="7654321",
            holder="コバヤシ マコト",
        ),
        uploads=[Upload(b"\x89PNG\r\n\x1a\n" + bytes(100), "image/png")],
        client="192.0.2.1",
        actor="t",
    )
    for reviewer in (worker, boss):
        review.decide(claim=claim, decision="approve", user=reviewer, reason="ok")
    payer = tomllib.loads((REPO / "docs" / "notice-setup.example.toml").read_text(encoding="utf-8"))
    payouts.set_payer(incident=data.incident, payer=payer["redress"]["payer"], actor="t")  # type: ignore[arg-type]
    batch = payouts.create_batch(
        incident=data.incident, transfer_date=NEW_YEAR, created_by=worker, today=TODAY
    ).batch  # type: ignore[arg-type]
    payouts.approve_batch(batch=batch, approved_by=boss)
    sent = payouts.download_batch(batch=batch, exported_by=worker, today=TODAY).data
    answer = b"".join(
        (r[:113] + b"0" + r[114:] if r[:1] == b"2" else r) + b"\r\n" for r in sent.split(b"\r\n")[:-1]
    )
    payouts.import_result_data(incident=data.incident, name="kekka", data=answer, imported_by=worker)  # type: ignore[arg-type]
    affected.ask(incident=data.incident, name="小林 誠", phone="072-222-3333", client="192.0.2.9")  # type: ignore[arg-type]

    other = create_incident(actor="t", slug="other-leak", name="別の事案", discovered_on=date(2026, 10, 1))
    path = tmp_path / "other.csv"
    path.write_text(HEADER + OTHER, encoding="utf-8")
    import_file(incident=other, path=path, source="shop", actor="t")
    return {"worker": worker, "deletion": deletion, "misuse": misuse, "claim": claim, "other": other}


def _run(*args: str) -> str:
    out = StringIO()
    call_command("retention", "--incident", "test-leak", *args, stdout=out)
    return out.getvalue()


def test_the_dry_run_shows_what_will_go_and_changes_nothing(
    portal_data: PortalData, full: dict[str, Any]
) -> None:
    before, events = _sealed_raw(), AuditEvent.objects.count()
    with pytest.raises(CommandError, match="2 requests are not finished"):
        _run("--dry-run")
    out = StringIO()
    with pytest.raises(CommandError):
        call_command("retention", "--incident", "test-leak", "--dry-run", stdout=out)
    text = out.getvalue()
    assert (
        "records.LeakRecord.sealed" in text
        and "notices.Notice.content" in text
        and "redress.Evidence.content" in text
    )
    assert (
        "records.LookupKey.key" in text
        and "redress.ChoiceKey.digest" in text
        and "dry run: nothing changed" in text
    )
    assert "gift codes were never handed out" in text
    with pytest.raises(CommandError, match="not finished"):
        _run()
    assert _sealed_raw() == before and AuditEvent.objects.count() == events
    assert not LegalHold.objects.exists()

    for item in (full["deletion"], full["misuse"]):
        request_queue.complete(request=item, user=full["worker"], note="削除済")
    before, events = _sealed_raw(), AuditEvent.objects.count()
    plan = _run("--dry-run")
    assert "blocked" not in plan and "  records.LeakRecord.sealed" in plan
    assert [line.split()[-1] for line in plan.splitlines() if "records.LeakRecord.sealed" in line] == ["5"]
    assert _sealed_raw() == before and AuditEvent.objects.count() == events  # nothing at all changed


def test_retention_leaves_nothing_decryptable_and_keeps_the_legal_hold_record(
    portal_data: PortalData, full: dict[str, Any]
) -> None:
    for item in (full["deletion"], full["misuse"]):
        request_queue.complete(request=item, user=full["worker"], note="削除済")
    leaked = _leaked()
    everything = _everything_decrypted()
    assert all(value in everything for value in ("小林 誠", "7654321", "GIFT-0000-SECRET", "削除済"))
    other_records = {r.pk: r.sealed for r in LeakRecord.objects.filter(incident=full["other"])}
    other_keys = LookupKey.objects.filter(record__incident=full["other"]).count()
    assert other_keys > 0
    codes = sorted(
        Notice.objects.filter(incident=portal_data.incident).values_list("code", "channel", "status")
    )
    assert Job.objects.filter(kind=affected.KIND).get().payload["keys"]
    _, token = api_tokens.create_token(
        incident_id=portal_data.incident.pk, name="print vendor", scopes=["returns"], actor="test"
    )
    _, other_token = api_tokens.create_token(
        incident_id=full["other"].pk, name="print vendor", scopes=["returns"], actor="test"
    )
    assert api_tokens.check(token).refusal == ""
    # A resolve that stopped left its checkpoints (record positions, the model); another incident's too.
    stopped = {incident: folder_of(incident) for incident in (portal_data.incident, full["other"])}
    for folder in stopped.values():
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "scored.npz").write_bytes(b"positions")

    out = _run()
    assert "personal data shredded (run 1)" in out
    assert not stopped[portal_data.incident].exists()
    assert (stopped[full["other"]] / "scored.npz").exists()
    event = AuditEvent.objects.filter(action="retention.shred").latest("pk")
    assert event.data["resolve_checkpoints_deleted"] is True
    # The incident's API tokens are revoked with it; another incident's keep working.
    assert api_tokens.check(token).refusal == "revoked"
    assert api_tokens.check(other_token).refusal == ""

    # Read every sealed value back: nothing of the incident's people opens any more.
    everything = _everything_decrypted()
    for value in leaked:
        assert value not in everything, value
    assert "佐藤 健" in everything and "ken.sato@example.jp" in everything  # the other incident's stays
    incident = portal_data.incident
    for model, column in keys.sealed_columns():
        path = "incident" if "incident" in {f.name for f in model._meta.fields} else None
        if path:
            rows = model._default_manager.filter(incident=incident)
            for (value,) in open_values(rows, column.name):
                assert value in (None, {}, b""), (model, column.name)
    assert not LookupKey.objects.filter(record__incident=incident).exists()
    assert not ChoiceKey.objects.filter(incident=incident).exists()
    assert set(Payee.objects.filter(incident=incident).values_list("fingerprint", flat=True)) == {""}
    assert set(
        Payout.objects.filter(batch__incident=incident).values_list("payee_fingerprint", flat=True)
    ) == {""}
    assert set(Claim.objects.filter(incident=incident).values_list("client", flat=True)) == {""}
    assert all(
        r.startswith("erased-")
        for r in LeakRecord.objects.filter(incident=incident).values_list("record_id", flat=True)
    )
    assert Job.objects.filter(kind=affected.KIND).get().payload == {"incident": incident.pk}

    # The other incident is untouched.
    assert {r.pk: r.sealed for r in LeakRecord.objects.filter(incident=full["other"])} == other_records
    assert LookupKey.objects.filter(record__incident=full["other"]).count() == other_keys

    # The legal-hold record: the rows' skeleton and one LegalHold row, counts and dates, no person.
    hold = LegalHold.objects.get(incident=incident)
    assert hold.summary["records"] == 5 and hold.summary["recipients"] == 4
    assert sum(hold.summary["notices"].values()) == len(codes)
    assert hold.summary["requests"] == {"delete:done": 1, "misuse:done": 1}
    assert hold.summary["claims"] == {"paid": 1} and hold.summary["paid_yen"] == 1100
    assert (
        hold.done["overwritten"]["records.LeakRecord.sealed"] == 5
        and hold.done["cleared"]["records.LookupKey.key"] > 0
    )
    assert sorted(Notice.objects.filter(incident=incident).values_list("code", "channel", "status")) == codes
    assert Request.objects.filter(incident=incident, status="done").count() == 2
    assert Choice.objects.filter(incident=incident).count() == 1
    assert Incident.objects.get(pk=incident.pk).status == "closed"
    record = json.dumps([hold.summary, hold.done], ensure_ascii=False)
    trail = json.dumps(list(AuditEvent.objects.values_list("data", "reason")), ensure_ascii=False)
    for value in leaked:
        assert value not in record and value not in trail, value
    assert audit.verify().ok

    # A second run is harmless: the record stays as it was, the run is counted, nothing reappears.
    summary, done = hold.summary, hold.done
    assert "personal data shredded (run 2)" in _run()
    hold.refresh_from_db()
    assert (hold.summary, hold.done, hold.runs) == (summary, done, 2)
    everything = _everything_decrypted()
    assert not any(value in everything for value in leaked) and "佐藤 健" in everything
    assert "shredded on" in _run("--dry-run")


def test_retention_waits_for_a_batch_still_at_the_bank(portal_data: PortalData, full: dict[str, Any]) -> None:
    for item in (full["deletion"], full["misuse"]):
        request_queue.complete(request=item, user=full["worker"], note="削除済")
    Payout.objects.update(status="pending")
    PayoutBatch.objects.update(status="exported")
    with pytest.raises(CommandError, match=r"payout batch B-\S+ is exported: settle or cancel it first"):
        _run()
    assert not LegalHold.objects.exists()
    assert "小林 誠" in _everything_decrypted()


def test_a_closed_incident_refuses_every_stage_that_works_on_personal_data(
    portal_data: PortalData, full: dict[str, Any], tmp_path: Path
) -> None:
    """After retention, import, resolve and every notice stage but `status` refuse in one line; before,
    resolve crashed on the erased values and a resend would have prepared a notice with nothing in it."""
    from owabi.notices.resend import ResendError, resend
    from owabi.records.readers import ImportFileError
    from owabi.records.resolve import IncidentClosed, resolve

    for item in (full["deletion"], full["misuse"]):
        request_queue.complete(request=item, user=full["worker"], note="削除済")
    incident = portal_data.incident
    recipient = Notice.objects.filter(incident=incident).values_list("recipient_id", flat=True).first()
    assert recipient is not None
    export = tmp_path / "late.csv"
    export.write_text(HEADER + OTHER, encoding="utf-8")
    _run()
    after = _sealed_raw(), Notice.objects.count(), LeakRecord.objects.count()

    closed = "incident test-leak is closed: its personal data was erased"
    for command in (
        ["resolve"],
        ["import", str(export)],
        ["import", str(export.parent)],  # a folder: one line, not every file "FAILED"
        ["notices", "prepare"],
        ["notices", "remind"],
        ["notices", "send", "--channel", "email"],
        ["notices", "print", "--out", str(tmp_path / "letters")],
        ["notices", "preview", "--code", "X", "--reason", "r"],
    ):
        with pytest.raises(CommandError, match=closed):
            call_command(*command, "--incident", "test-leak", stdout=StringIO(), stderr=StringIO())
    with pytest.raises(IncidentClosed, match=closed):
        resolve(incident=incident, actor="test")
    with pytest.raises(ImportFileError, match=closed):
        import_file(incident=incident, path=export, actor="test")
    with pytest.raises(ResendError):
        resend(recipient_id=recipient, channel="letter", actor="staff:1", reason="住所の訂正")
    status = StringIO()
    call_command("notices", "status", "--incident", "test-leak", stdout=status)
    assert status.getvalue().strip()  # the counts are still shown
    assert (_sealed_raw(), Notice.objects.count(), LeakRecord.objects.count()) == after  # nothing written
    # Another incident is not affected by the first one's closing.
    other = tmp_path / "other.csv"
    other.write_text(HEADER + OTHER.replace("O1,", "O2,"), encoding="utf-8")
    assert import_file(incident=full["other"], path=other, actor="test").source_file is not None
