"""Payout batches through their services, the command and the portal: approved claims become a batch,
a second staff user approves it, its 総合振込 file is written privately, and the bank's result file
marks each payout and claim paid or returned. Four eyes, one live batch per claim, bank business days,
the 9,999 cap, and result files that do not match what was sent."""

from __future__ import annotations

import subprocess
import threading
import tomllib
from datetime import date
from io import StringIO
from pathlib import Path

import pytest
from django.contrib.auth.models import Group, User
from django.core.management import call_command
from django.db import IntegrityError, connection, connections, transaction
from django.test import Client

from owabi.core.models import AuditEvent
from owabi.redress import payouts, review, services
from owabi.redress.models import Claim, Payee, Payout, PayoutBatch
from owabi.redress.payees import check_account
from owabi.redress.uploads import Upload
from owabi.redress.zengin_check import validate
from tests.conftest import OWABI, REPO
from tests.portal_support import PortalData, sign_in

pytestmark = pytest.mark.django_db(transaction=True)

EXAMPLE = REPO / "docs" / "notice-setup.example.toml"
TODAY = date(2026, 12, 28)  # a Monday
NEW_YEAR = date(2027, 1, 4)  # the first business day after 12/31 - 1/3
PNG = b"\x89PNG\r\n\x1a\n" + bytes(100)
ACCOUNTS = [  # (bank, branch, type, number, name as typed): three people on two notices
    ("0001", "001", "1", "1234", "ナカムラ ユイ"),
    ("9900", "019", "1", "7654321", "なかむら れん"),
    ("0009", "001", "2", "1111111", "コバヤシ マコト"),
]


@pytest.fixture
def staff() -> dict[str, User]:
    finance = Group.objects.get_or_create(name="finance")[0]
    people = {
        "alice": User.objects.create_user("alice", is_staff=True),
        "bob": User.objects.create_user("bob", is_staff=True),
        "carol": User.objects.create_user("carol"),  # not staff
        "dave": User.objects.create_user("dave", is_staff=True),  # staff, but an agent
    }
    for name in ("alice", "bob"):
        people[name].groups.add(finance)
    people["dave"].groups.add(Group.objects.get_or_create(name="agent")[0])
    return people


def _claim(data: PortalData, notice: object, person: int, account: tuple[str, ...], amount: int) -> Claim:
    bank, branch, type_, number, holder = account
    return services.file_claim(
        notice=notice,  # type: ignore[arg-type]
        person=person,
        kind="reissue_fee",
        amount_yen=amount,
        description="カードを再発行しました",
        occurred_on=None,
        account=check_account(
            bank_code=bank, branch_code=branch, account_type=type_, account_number=number, holder=holder
        ),
        uploads=[Upload(PNG, "image/png")],
        client="192.0.2.1",
        actor="t",
    )


@pytest.fixture
def claims(portal_data: PortalData) -> list[Claim]:
    """Three approved claims (the guardian's two children, the adult; each approved by two reviewers
    through the claims review) and one still under review."""
    data = portal_data
    filed = [
        _claim(data, data.guardian, data.people(data.guardian)[0], ACCOUNTS[0], 1100),
        _claim(data, data.guardian, data.people(data.guardian)[1], ACCOUNTS[1], 25_000),
        _claim(data, data.adult, data.people(data.adult)[0], ACCOUNTS[2], 3_300),
    ]
    _claim(data, data.twin_a, data.people(data.twin_a)[0], ACCOUNTS[2], 999)
    first, second = (User.objects.create_user(name, is_staff=True) for name in ("rev1", "rev2"))
    for claim in filed:
        for reviewer in (first, second):
            review.decide(claim=claim, decision="approve", user=reviewer, reason="receipt checked")
    payer = tomllib.loads(EXAMPLE.read_text(encoding="utf-8"))["redress"]["payer"]
    payouts.set_payer(incident=data.incident, payer=payer, actor="t")  # type: ignore[arg-type]
    return filed


def _batch(data: PortalData, staff: dict[str, User], **kwargs: object) -> payouts.BatchResult:
    return payouts.create_batch(
        incident=data.incident,  # type: ignore[arg-type]
        transfer_date=kwargs.pop("day", NEW_YEAR),  # type: ignore[arg-type]
        created_by=staff["alice"],
        today=TODAY,
        **kwargs,  # type: ignore[arg-type]
    )


def _exported(data: PortalData, staff: dict[str, User], out: Path) -> tuple[PayoutBatch, bytes]:
    batch = _batch(data, staff).batch
    payouts.approve_batch(batch=batch, approved_by=staff["bob"])
    export = payouts.export_batch(batch=batch, exported_by=staff["bob"], out=out, today=TODAY)
    batch.refresh_from_db()
    return batch, export.path.read_bytes()


def _answer(sent: bytes, codes: dict[int, str]) -> bytes:
    """The bank's result file: what was sent, each data record with its 振込結果コード (byte 114)."""
    out = []
    for record in sent.split(b"\r\n")[:-1]:
        if record[:1] == b"2":
            record = record[:113] + codes[int(record[91:101])].encode() + record[114:]
        out.append(record + b"\r\n")
    return b"".join(out)


def test_approved_claims_are_paid_by_a_file_and_the_banks_answer_marks_them(
    portal_data: PortalData, claims: list[Claim], staff: dict[str, User], tmp_path: Path
) -> None:
    result = _batch(portal_data, staff, day=date(2026, 12, 31))
    batch = result.batch
    assert result.moved and batch.transfer_date == NEW_YEAR and batch.requested_date == date(2026, 12, 31)
    assert (batch.status, batch.count, batch.total_yen) == ("draft", 3, 29_400)
    assert sorted(p.claim_id for p in batch.payouts.all()) == sorted(c.pk for c in claims)  # not the 4th

    payouts.approve_batch(batch=batch, approved_by=staff["bob"])
    out = tmp_path / "bank" / "out"
    export = payouts.export_batch(batch=batch, exported_by=staff["alice"], out=out, today=TODAY)
    assert export.path == out / f"zengin-{batch.reference}.txt"
    assert export.path.stat().st_mode & 0o777 == 0o600 and out.stat().st_mode & 0o777 == 0o700
    assert [p.name for p in out.iterdir()] == [export.path.name]  # no temp file left
    sent = export.path.read_bytes()
    assert validate(sent) == [] and sent.count(b"\r\n") == 6
    assert "ﾅｶﾑﾗ ﾕｲ".encode("cp932") in sent and "ﾅｶﾑﾗ ﾚﾝ".encode("cp932") in sent  # half-width, checked
    batch.refresh_from_db()
    assert batch.status == "exported" and batch.file_sha256 == export.sha256

    by_claim = {p.claim_id: p.pk for p in batch.payouts.all()}
    codes = {by_claim[claims[0].pk]: "0", by_claim[claims[1].pk]: "2", by_claim[claims[2].pk]: "0"}
    answer = tmp_path / "result.txt"
    answer.write_bytes(_answer(sent, codes))
    outcome = payouts.import_results(incident=portal_data.incident, path=answer, imported_by=staff["alice"])  # type: ignore[arg-type]
    assert (outcome.paid, outcome.returned, outcome.unchanged, outcome.pending) == (2, 1, 0, 0)
    states = {p.claim_id: (p.status, p.result_code) for p in Payout.objects.all()}
    assert states[claims[0].pk] == ("paid", "0") and states[claims[1].pk] == ("returned", "2")
    assert (
        payouts.reason(Payout.objects.get(claim=claims[1]))
        == "受取人名相違 (the holder's name does not match)"
    )
    claim_states = dict(Claim.objects.values_list("pk", "status"))
    assert [claim_states[c.pk] for c in claims] == ["paid", "returned", "paid"]
    batch.refresh_from_db()
    assert batch.status == "settled"

    # The claimant sees it on the portal, in the notice's language.
    client = Client()
    sign_in(client, portal_data.guardian)
    page = client.get(f"/me/claims/{claims[1].reference}").content.decode()
    assert "振込ができませんでした" in page and "受取人名相違" in page
    assert "お支払い済" in client.get(f"/me/claims/{claims[0].reference}").content.decode()

    # Importing the same file again changes nothing; a later 組戻し turns a paid one returned, never back.
    again = payouts.import_results(incident=portal_data.incident, path=answer, imported_by=staff["bob"])  # type: ignore[arg-type]
    assert (again.paid, again.returned, again.unchanged) == (0, 0, 3)
    assert {p.claim_id: (p.status, p.result_code) for p in Payout.objects.all()} == states
    codes[by_claim[claims[2].pk]] = "5"
    answer.write_bytes(_answer(sent, codes))
    later = payouts.import_results(incident=portal_data.incident, path=answer, imported_by=staff["bob"])  # type: ignore[arg-type]
    assert (later.paid, later.returned, later.unchanged) == (0, 1, 2)
    assert Claim.objects.get(pk=claims[2].pk).status == "returned"
    codes[by_claim[claims[1].pk]] = "0"
    answer.write_bytes(_answer(sent, codes))
    with pytest.raises(
        payouts.PayoutError, match=r"record 3 \(data\), 振込結果コード: payout \d+ was returned"
    ):
        payouts.import_results(incident=portal_data.incident, path=answer, imported_by=staff["bob"])  # type: ignore[arg-type]
    assert Claim.objects.get(pk=claims[1].pk).status == "returned"

    actions = list(
        AuditEvent.objects.filter(action__startswith="redress.payouts.").values_list("action", flat=True)
    )
    assert (
        actions
        == ["redress.payouts.setup", "redress.payouts.create", "redress.payouts.approve"]
        + ["redress.payouts.export"]
        + ["redress.payouts.results"] * 3
    )
    trail = str(list(AuditEvent.objects.values_list("data", "reason")))
    for secret in ("ﾅｶﾑﾗ", "ナカムラ", "7654321", "1111111"):
        assert secret not in trail


def test_a_batch_needs_a_second_staff_user_to_approve_it(
    portal_data: PortalData, claims: list[Claim], staff: dict[str, User], tmp_path: Path
) -> None:
    batch = _batch(portal_data, staff).batch
    with pytest.raises(payouts.PayoutError, match=r"is draft \(a second staff user approves it first\)"):
        payouts.export_batch(batch=batch, exported_by=staff["alice"], out=tmp_path / "o", today=TODAY)
    with pytest.raises(payouts.FourEyes, match="not by its creator"):
        payouts.approve_batch(batch=batch, approved_by=staff["alice"])
    with pytest.raises(payouts.PayoutError, match="only active staff with the finance"):
        payouts.approve_batch(batch=batch, approved_by=staff["carol"])
    with pytest.raises(payouts.PayoutError, match="only active staff with the finance"):
        payouts.approve_batch(batch=batch, approved_by=staff["dave"])  # an agent cannot approve payouts
    staff["bob"].is_active = False
    staff["bob"].save()
    with pytest.raises(payouts.PayoutError, match="only active staff with the finance"):
        payouts.approve_batch(batch=batch, approved_by=staff["bob"])
    # The database itself refuses the creator as the approver, whatever code tries it.
    with pytest.raises(IntegrityError), transaction.atomic():
        PayoutBatch.objects.filter(pk=batch.pk).update(status="approved", approved_by=staff["alice"])
    # ... and a batch past draft with no approver.
    with pytest.raises(IntegrityError), transaction.atomic():
        PayoutBatch.objects.filter(pk=batch.pk).update(status="exported")
    batch.refresh_from_db()
    assert batch.status == "draft" and batch.approved_by is None and not (tmp_path / "o").exists()


def test_a_claim_is_in_one_live_batch_until_that_batch_is_cancelled(
    portal_data: PortalData, claims: list[Claim], staff: dict[str, User]
) -> None:
    first = _batch(portal_data, staff).batch
    with pytest.raises(payouts.PayoutError, match="no approved claim waits for payment"):
        _batch(portal_data, staff)
    with pytest.raises(IntegrityError), transaction.atomic():  # the database says so too
        payout = first.payouts.first()
        assert payout is not None
        Payout.objects.create(
            batch=first, claim=payout.claim, payee=payout.payee, payee_fingerprint="x", amount_yen=1
        )
    with pytest.raises(payouts.PayoutError, match="say why"):
        payouts.cancel_batch(batch=first, cancelled_by=staff["bob"], reason=" ")
    payouts.cancel_batch(batch=first, cancelled_by=staff["bob"], reason="wrong date")
    assert set(first.payouts.values_list("status", flat=True)) == {"cancelled"}
    second = _batch(portal_data, staff).batch
    assert second.count == 3
    with pytest.raises(payouts.PayoutError, match="is cancelled; only a draft is approved"):
        payouts.approve_batch(batch=first, approved_by=staff["bob"])


def test_two_staff_making_batches_at_once_put_each_claim_in_one(
    portal_data: PortalData, claims: list[Claim], staff: dict[str, User]
) -> None:
    barrier = threading.Barrier(2)
    results: list[object] = [None, None]

    def make(index: int) -> None:
        try:
            barrier.wait()
            results[index] = _batch(portal_data, staff)
        except Exception as error:
            results[index] = error
        finally:
            connections.close_all()

    threads = [threading.Thread(target=make, args=(i,)) for i in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    made = [r for r in results if isinstance(r, payouts.BatchResult)]
    assert len(made) >= 1 and all(isinstance(r, payouts.BatchResult | payouts.PayoutError) for r in results)
    assert Payout.objects.filter(status="pending").count() == 3  # each claim once, whoever won
    assert sorted(Payout.objects.values_list("claim_id", flat=True)) == sorted(c.pk for c in claims)


def test_the_transfer_date_is_a_bank_business_day_ahead(
    portal_data: PortalData, claims: list[Claim], staff: dict[str, User]
) -> None:
    for day, message in [
        (TODAY, "must be after today"),
        (date(2026, 12, 1), "must be after today"),
        (date(2027, 2, 1), "more than 30 days ahead"),
    ]:
        with pytest.raises(payouts.PayoutError, match=message):
            _batch(portal_data, staff, day=day)
    business = _batch(portal_data, staff, day=date(2026, 12, 30))
    assert not business.moved and business.batch.transfer_date == date(2026, 12, 30)


def test_a_batch_holds_at_most_the_cap_and_the_rest_wait_for_the_next(
    portal_data: PortalData, claims: list[Claim], staff: dict[str, User]
) -> None:
    first = _batch(portal_data, staff, limit=2)
    assert first.batch.count == 2 and first.waiting == 1
    assert [p.claim_id for p in first.batch.payouts.order_by("pk")] == [claims[0].pk, claims[1].pk]
    second = _batch(portal_data, staff, limit=2)
    assert second.batch.count == 1 and second.waiting == 0
    with pytest.raises(payouts.PayoutError, match="a batch holds 1 to 9999"):
        _batch(portal_data, staff, limit=10_000)


def test_a_claim_whose_account_no_longer_checks_is_left_out_and_named(
    portal_data: PortalData, claims: list[Claim], staff: dict[str, User], tmp_path: Path
) -> None:
    payee = Payee.objects.get(claims=claims[0])
    payee.sealed = {**payee.sealed, "bank_code": "9998"}  # a bank that merged away since the claim
    payee.save()
    result = _batch(portal_data, staff)
    assert result.batch.count == 2
    assert result.left_out == [(claims[0].reference, "銀行番号")]
    # An account that breaks after the batch was made stops the export: no file leaves.
    payee = Payee.objects.get(claims=claims[1])
    payee.sealed = {**payee.sealed, "holder_kana": "ﾅｶﾑﾗ ﾚﾝ株"}
    payee.save()
    payouts.approve_batch(batch=result.batch, approved_by=staff["bob"])
    with pytest.raises(payouts.PayoutError, match=r"payout \d+: 受取人名: not in the bank's half-width"):
        payouts.export_batch(batch=result.batch, exported_by=staff["bob"], out=tmp_path / "o", today=TODAY)
    assert not (tmp_path / "o").exists()
    # So does a claim that is no longer approved.
    Claim.objects.filter(pk=claims[1].pk).update(status="rejected")
    with pytest.raises(payouts.PayoutError, match=f"claim {claims[1].reference} is rejected now"):
        payouts.export_batch(batch=result.batch, exported_by=staff["bob"], out=tmp_path / "o", today=TODAY)


def test_the_file_goes_only_to_a_private_folder_and_is_written_again_only_on_purpose(
    portal_data: PortalData, claims: list[Claim], staff: dict[str, User], tmp_path: Path
) -> None:
    batch = _batch(portal_data, staff).batch
    payouts.approve_batch(batch=batch, approved_by=staff["bob"])
    shared = tmp_path / "shared"
    shared.mkdir(mode=0o755)
    shared.chmod(0o755)
    with pytest.raises(payouts.PayoutError, match=r"other users can open this folder \(mode 755\)"):
        payouts.export_batch(batch=batch, exported_by=staff["bob"], out=shared, today=TODAY)
    assert list(shared.iterdir()) == []
    with pytest.raises(payouts.PayoutError, match="transfer date 2027-01-04 has come"):
        payouts.export_batch(batch=batch, exported_by=staff["bob"], out=tmp_path / "o", today=NEW_YEAR)
    first = payouts.export_batch(batch=batch, exported_by=staff["bob"], out=tmp_path / "o", today=TODAY)
    with pytest.raises(payouts.PayoutError, match=r"is exported \(--again writes it once more\)"):
        payouts.export_batch(batch=batch, exported_by=staff["bob"], out=tmp_path / "o", today=TODAY)
    with pytest.raises(payouts.PayoutError, match="say why"):
        payouts.export_batch(
            batch=batch, exported_by=staff["bob"], out=tmp_path / "o", again=True, today=TODAY
        )
    first.path.unlink()
    again = payouts.export_batch(
        batch=batch,
        exported_by=staff["alice"],
        out=tmp_path / "o",
        again=True,
        reason="file lost",
        today=TODAY,
    )
    assert again.sha256 == first.sha256 and again.path.stat().st_mode & 0o777 == 0o600
    event = AuditEvent.objects.filter(action="redress.payouts.export").last()
    assert event is not None and event.reason == "file lost" and event.data["again"] is True


def test_a_result_file_that_does_not_match_what_was_sent_is_refused_whole(
    portal_data: PortalData, claims: list[Claim], staff: dict[str, User], tmp_path: Path
) -> None:
    batch, sent = _exported(portal_data, staff, tmp_path / "o")
    codes = {p: "0" for p in batch.payouts.values_list("pk", flat=True)}
    good = _answer(sent, codes).split(b"\r\n")
    path = tmp_path / "result.txt"

    def refused(records: list[bytes], says: str) -> None:
        """The records written as a file, its trailer made to agree with them: only `says` is wrong."""
        data = [r for r in records if r[:1] == b"2" and len(r) == 120]
        count, total = str(len(data)).zfill(6), str(sum(int(r[80:90]) for r in data)).zfill(12)
        records = [b"8" + f"{count}{total}".encode() + r[19:] if r[:1] == b"8" else r for r in records]
        path.write_bytes(b"\r\n".join(records))
        with pytest.raises(payouts.PayoutError, match=says) as raised:
            payouts.import_results(incident=portal_data.incident, path=path, imported_by=staff["bob"])  # type: ignore[arg-type]
        assert "ﾅｶﾑﾗ" not in str(raised.value) and "1234" not in str(raised.value)
        assert set(Payout.objects.values_list("status", flat=True)) == {"pending"}

    amount = good[2][:80] + b"0000099999" + good[2][90:]
    refused([good[0], good[1], amount, *good[3:]], r"record 3 \(data\), 振込金額: not what was sent")
    account = good[1][:43] + b"7777777" + good[1][50:]
    refused([good[0], account, *good[2:]], r"record 2 \(data\), 口座番号: not what was sent")
    stranger = good[1][:91] + b"0000099999" + good[1][101:]
    refused([good[0], stranger, *good[2:]], r"record 2 \(data\), 顧客コード1: no payout of batch")
    refused(
        [good[0], good[1], good[1], good[3], *good[4:]],
        r"record 3 \(data\), 顧客コード1: payout \d+ is answered twice",
    )
    header = good[0][:4] + b"9999999999" + good[0][14:]
    refused([header, *good[1:]], r"record 1 \(header\), 振込依頼人コード: not this batch's")
    other = good[1][:101] + b"0000099999" + good[1][111:]
    refused([good[0], other, *good[2:]], "records of 2 batches")
    refused([good[0], good[1][:119], *good[2:]], r"result.txt: record 2: \(data\) 119 bytes")
    refused([good[0], *good[1:4], *good[5:]], "record 5: データ区分")


def test_the_command_runs_a_batch_from_setup_to_results(
    portal_data: PortalData, claims: list[Claim], staff: dict[str, User], tmp_path: Path
) -> None:
    def run(*args: str) -> str:
        out = StringIO()
        call_command("redress", "payouts", *args, "--incident", "test-leak", stdout=out)
        return out.getvalue()

    assert "payer account set" in run("setup", "--from", str(EXAMPLE))
    made = run("create", "--date", "2027-01-01", "--today", "2026-12-28", "--as", "alice")
    reference = PayoutBatch.objects.get().reference
    assert made.startswith(f"batch {reference}: 3 payouts, 29,400 yen, transfer date 2027-01-04")
    assert "banks are closed on 2027-01-01" in made
    assert "approved" in run("approve", reference, "--as", "bob")
    written = run("export", reference, "--out", str(tmp_path / "o"), "--today", "2026-12-28", "--as", "bob")
    path = tmp_path / "o" / f"zengin-{reference}.txt"
    assert written.startswith(f"{path}: 3 transfers, 29,400 yen, sha256 ")
    codes = {p: "1" for p in Payout.objects.values_list("pk", flat=True)}
    (tmp_path / "r.txt").write_bytes(_answer(path.read_bytes(), codes))
    assert "0 paid, 3 returned, 0 as before, 0 still pending" in run(
        "results", str(tmp_path / "r.txt"), "--as", "bob"
    )
    assert f"{reference}  settled" in run("list")
    for output in (made, written):
        assert "ﾅｶﾑﾗ" not in output and "7654321" not in output


def test_a_refused_command_says_one_line_and_no_traceback(
    portal_data: PortalData, claims: list[Claim], staff: dict[str, User], subprocess_env: dict[str, str]
) -> None:
    batch = _batch(portal_data, staff).batch
    connection.close()

    def approve(user: str) -> subprocess.CompletedProcess[str]:
        command = ["redress", "payouts", "approve", batch.reference, "--incident", "test-leak", "--as", user]
        return subprocess.run(
            [*OWABI, *command], env=subprocess_env, capture_output=True, text=True, timeout=120, check=False
        )

    run = approve("alice")
    assert run.returncode == 1
    assert run.stderr.strip().splitlines() == [
        f"CommandError: batch {batch.reference}: approved by a second staff user, not by its creator"
    ]
    assert approve("carol").stderr.strip() == "CommandError: --as carol: no active staff user of that name"


def test_the_payer_account_is_checked_when_it_is_loaded(incident: object) -> None:
    payer = tomllib.loads(EXAMPLE.read_text(encoding="utf-8"))["redress"]["payer"]
    alice = User.objects.create_user("alice", is_staff=True)
    alice.groups.add(Group.objects.get_or_create(name="finance")[0])
    with pytest.raises(payouts.PayoutError, match=r"no payer account; load \[redress\.payer\]"):
        payouts.create_batch(incident=incident, transfer_date=NEW_YEAR, created_by=alice, today=TODAY)  # type: ignore[arg-type]
    for change, says in [
        ({"requester_code": 1234567890}, "requester_code: a quoted string of up to 10 digits"),
        ({"account_number": "12345678"}, "account_number: a quoted string of up to 7 digits"),
        ({"bank_code": "9998"}, "銀行番号: not in the banks' code list"),
        ({"branch_code": "998"}, "支店番号: not in the banks' code list"),
        ({"requester_name": "株式会社サンプル旅行"}, "requester_name: not in the bank's half-width"),
        ({"requester_name": "ｶ)ｻﾝﾌﾟﾙ" * 6}, "requester_name: longer than 40"),
        ({"account_type": "4"}, "account_type"),
        ({"iban": "x"}, "unknown key 'iban'"),
    ]:
        with pytest.raises(payouts.PayoutError, match=f"setup: .redress.payer.*{says}"):
            payouts.set_payer(incident=incident, payer={**payer, **change}, actor="t")  # type: ignore[arg-type]
    setup = payouts.set_payer(incident=incident, payer={**payer, "requester_code": "12345"}, actor="t")  # type: ignore[arg-type]
    assert setup.requester_code == "0000012345" and setup.requester_name == "ｶ)ｻﾝﾌﾟﾙﾘﾖｺｳ"
