"""The redress domain: one payout per person, gift codes handed out exactly once under concurrent
choosers, the code pool sealed at rest, the catalog and payee checks."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
from django.db import connection, connections

from owabi.notices.models import Notice
from owabi.redress import services
from owabi.redress.models import Choice, GiftCode, Option
from owabi.redress.payees import PayeeError, check_account, holder_kana
from tests.portal_support import PortalData

pytestmark = pytest.mark.django_db(transaction=True)


def _choosers(data: PortalData) -> list[tuple[Notice, int]]:
    """Four different people on three notices (the guardian's two children, the adult, one 山本)."""
    return [
        (data.guardian, data.people(data.guardian)[0]),
        (data.guardian, data.people(data.guardian)[1]),
        (data.adult, data.people(data.adult)[0]),
        (data.twin_a, data.people(data.twin_a)[0]),
    ]


def _in_parallel(calls: list) -> list[object]:
    barrier = threading.Barrier(len(calls))
    results: list[object] = [None] * len(calls)

    def run(index: int) -> None:
        try:
            barrier.wait()
            results[index] = calls[index]()
        except Exception as error:
            results[index] = error
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(calls))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    return results


def test_concurrent_choosers_each_get_a_different_code(portal_data: PortalData) -> None:
    calls = [
        (lambda n=notice, p=person: services.choose(notice=n, person=p, option_key="emoney", actor="t"))
        for notice, person in _choosers(portal_data)
    ]
    results = _in_parallel(calls)
    assert all(isinstance(r, services.ChoiceResult) for r in results), results
    handed = [r.code["code"] for r in results]  # type: ignore[union-attr]
    assert len(set(handed)) == 4
    assert GiftCode.objects.filter(choice__isnull=False).count() == 4


def test_a_scarce_pool_runs_out_without_giving_a_code_twice(portal_data: PortalData, tmp_path: Path) -> None:
    Option.objects.create(
        incident=portal_data.incident,
        key="scarce",
        kind="code",
        label_ja="限定",
        label_en="Few",
        amount_yen=500,
    )
    pool = tmp_path / "few.csv"
    pool.write_text("code,gift_id,management_number\nFEW-1,G1,M1\nFEW-2,G2,M2\n", encoding="utf-8")
    services.import_codes(incident=portal_data.incident, option_key="scarce", path=pool, actor="t")
    calls = [
        (lambda n=notice, p=person: services.choose(notice=n, person=p, option_key="scarce", actor="t"))
        for notice, person in _choosers(portal_data)
    ]
    results = _in_parallel(calls)
    got = [r for r in results if isinstance(r, services.ChoiceResult)]
    assert len(got) == 2 and {r.code["code"] for r in got} == {"FEW-1", "FEW-2"}  # type: ignore[index]
    assert all(isinstance(r, services.OutOfStock) for r in results if r not in got)
    assert Choice.objects.filter(option__key="scarce").count() == 2  # the others' choices rolled back


def test_one_person_choosing_twice_at_once_gets_one_choice_and_one_code(portal_data: PortalData) -> None:
    notice, person = portal_data.adult, portal_data.people(portal_data.adult)[0]
    call = lambda: services.choose(notice=notice, person=person, option_key="emoney", actor="t")  # noqa: E731
    results = _in_parallel([call, call, call])
    assert sum(isinstance(r, services.ChoiceResult) for r in results) == 1
    assert all(isinstance(r, services.ChoiceResult | services.Locked) for r in results), results
    assert Choice.objects.count() == 1 and GiftCode.objects.filter(choice__isnull=False).count() == 1


def test_the_second_notice_of_a_person_who_has_chosen_is_held(portal_data: PortalData) -> None:
    first = services.choose(
        notice=portal_data.twin_a,
        person=portal_data.people(portal_data.twin_a)[0],
        option_key="emoney",
        actor="t",
    )
    second = services.choose(
        notice=portal_data.twin_b,
        person=portal_data.people(portal_data.twin_b)[0],
        option_key="emoney",
        actor="t",
    )
    assert first.choice.status == "fulfilled" and first.code
    assert second.choice.status == "held" and second.code is None
    # Spouses or siblings who share a phone or a card but not a name are not held: the adult's choice
    # does not hold the guardian's children.
    child = services.choose(
        notice=portal_data.guardian,
        person=portal_data.people(portal_data.guardian)[0],
        option_key="emoney",
        actor="t",
    )
    assert child.choice.status == "fulfilled"


def test_a_person_number_from_another_notice_is_not_found(portal_data: PortalData) -> None:
    with pytest.raises(services.NotFound):
        services.choose(
            notice=portal_data.guardian,
            person=portal_data.people(portal_data.adult)[0],
            option_key="emoney",
            actor="t",
        )
    assert not Choice.objects.exists()


def test_gift_codes_are_sealed_at_rest_and_a_reimport_adds_nothing(
    portal_data: PortalData, tmp_path: Path
) -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT sealed FROM redress_giftcode")
        blobs = b"".join(bytes(row[0]) for row in cursor.fetchall())
    assert b"GIFT-0001-SECRET" not in blobs and b"G00001" not in blobs
    pool = tmp_path / "again.csv"
    pool.write_text(
        "code,gift_id,management_number\nGIFT-0001-SECRET,G00001,M0000001\n,G9,M9\n", encoding="utf-8"
    )
    result = services.import_codes(incident=portal_data.incident, option_key="emoney", path=pool, actor="t")
    assert (
        result.added == 0
        and result.duplicates == 1
        and result.rejects == [(3, "code, gift_id and management_number are all required")]
    )
    bad = tmp_path / "bad.csv"
    bad.write_text("code,gift\nX,Y\n", encoding="utf-8")
    with pytest.raises(services.RedressError, match="line 1: missing columns"):
        services.import_codes(incident=portal_data.incident, option_key="emoney", path=bad, actor="t")


def test_a_chosen_options_kind_and_amount_cannot_change(portal_data: PortalData) -> None:
    services.choose(
        notice=portal_data.adult,
        person=portal_data.people(portal_data.adult)[0],
        option_key="donation",
        actor="t",
    )
    options = [
        {
            "key": "donation",
            "kind": "donation",
            "amount_yen": 1000,
            "label_ja": "寄付",
            "label_en": "Donation",
            "charity": "X",
        }
    ]
    with pytest.raises(services.RedressError, match="cannot change"):
        services.set_catalog(incident=portal_data.incident, options=options, actor="t")
    with pytest.raises(services.RedressError, match="names its charity"):
        services.set_catalog(
            incident=portal_data.incident,
            options=[{"key": "d2", "kind": "donation", "amount_yen": 5, "label_ja": "a", "label_en": "b"}],
            actor="t",
        )


@pytest.mark.parametrize(
    ("typed", "written"),
    [
        ("コバヤシ マコト", "ｺﾊﾞﾔｼ ﾏｺﾄ"),
        ("こばやし　まこと", "ｺﾊﾞﾔｼ ﾏｺﾄ"),
        ("ｷｯﾄﾞ ｼｮｳﾀ", "ｷﾂﾄﾞ ｼﾖｳﾀ"),  # small kana are not in the transfer file's character set
        ("john smith", "JOHN SMITH"),
        ("カ）サンプル", "ｶ)ｻﾝﾌﾟﾙ"),
    ],
)
def test_payee_names_are_written_in_the_transfer_files_character_set(typed: str, written: str) -> None:
    assert holder_kana(typed) == written


def test_a_payee_account_is_checked_against_the_bank_codes() -> None:
    account = check_account(
        bank_code="１", branch_code="1", account_type="1", account_number="12-34", holder="ヤマダ タロウ"
    )
    assert (account.bank_code, account.branch_code, account.account_number) == ("0001", "001", "0001234")
    for fields, field in (
        ({"bank_code": "9998"}, "bank_code"),
        ({"branch_code": "999"}, "branch_code"),
        ({"account_type": "3"}, "account_type"),
        ({"account_number": "12345678"}, "account_number"),
        ({"holder": "山田太郎"}, "holder"),
        ({"holder": "ア" * 31}, "holder"),
    ):
        values = {
            "bank_code": "0001",
            "branch_code": "001",
            "account_type": "1",
            "account_number": "1",
            "holder": "ｱ",
            **fields,
        }
        with pytest.raises(PayeeError) as raised:
            check_account(**values)
        assert raised.value.field == field
