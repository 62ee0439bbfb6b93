"""One lookup for every search: a person typed any way the normalizers fold is found, a namesake is not."""

from __future__ import annotations

import csv
from datetime import date
from pathlib import Path

import pytest
from django.core.management import call_command
from django.db import connection, transaction
from django.db.migrations.executor import MigrationExecutor
from django.test.utils import CaptureQueriesContext, override_settings

from owabi.core import audit, rowids
from owabi.incidents.services import create_incident
from owabi.records import lookup
from owabi.records.lookup import Role, find
from owabi.records.models import LeakRecord, LookupKey
from owabi.records.services import import_file

pytestmark = pytest.mark.django_db

HEADER = [
    "record_id",
    "氏名",
    "フリガナ",
    "保護者氏名",
    "保護者フリガナ",
    "郵便番号",
    "電話番号",
    "メールアドレス",
    "カード番号",
]
ROWS = [
    # the person, as one system wrote them
    [
        "P1",
        "山田 太郎",
        "ヤマダ タロウ",
        "",
        "",
        "100-0001",
        "090-1234-5678",
        "taro@example.jp",
        "************1234",
    ],
    # a namesake: same name and reading, another phone, card, postal code and e-mail
    [
        "N1",
        "山田 太郎",
        "やまだ たろう",
        "",
        "",
        "530-0001",
        "080-9999-0000",
        "other@example.jp",
        "4111111111111111",
    ],
    # a person written the way a careless export writes: full width, 様, 異体字, half-width kana, mailto
    [
        "W1",
        "渡邊　健様",
        "ﾜﾀﾅﾍﾞ ｹﾝ",
        "",
        "",
        "〒１５０ー０００１",
        "（０３）１２３４－５６７８",
        "mailto:KEN.W@Example.JP",
        "****-****-****-9876",
    ],
    # a child whose guardian's own data did not leak: the guardian is named only here
    [
        "C1",
        "鈴木 はな",
        "スズキ ハナ",
        "鈴木 一郎",
        "すずき いちろう",
        "060-0001",
        "070-1111-2222",
        "",
        "5555555555554444",
    ],
    # 髙/﨑 and 齋/斉 (people write 斉藤 for 齋藤)
    ["V1", "髙﨑 次郎", "", "", "", "", "+81 90 5555 6666", "", ""],
    ["V2", "齋藤 三郎", "", "", "", "", "090-7777-8888", "", ""],
]


def _write(path: Path, rows: list[list[str]]) -> Path:
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(HEADER)
        writer.writerows(rows)
    return path


@pytest.fixture
def leak(incident, tmp_path: Path):
    result = import_file(incident=incident, path=_write(tmp_path / "leak.csv", ROWS), actor="t")
    assert result.source_file.rows_ok == len(ROWS)
    return incident


def ids(found: list[lookup.Found]) -> list[str]:
    return [hit.record.record_id for hit in found]


# How a person may type "山田 太郎": spaces of any width or none, 様, kana of any kind and width.
TARO = ["山田 太郎", "山田太郎", "山田\u3000太郎", " 山田  太郎 ", "山田太郎様", "山田 太郎 様"]
TARO_KANA = [
    "ヤマダ タロウ",
    "ヤマダタロウ",
    "やまだ たろう",
    "やまだたろう",
    "ﾔﾏﾀﾞ ﾀﾛｳ",
    "ﾔﾏﾀﾞﾀﾛｳ",
    "ヤマダ　タロー",
]
PHONE = [
    "090-1234-5678",
    "09012345678",
    "090 1234 5678",
    "０９０－１２３４－５６７８",
    "090ー1234ー5678",
    "090‐1234‐5678",
    "090−1234−5678",
    "090–1234–5678",
    "090(1234)5678",
    "+81 90-1234-5678",
    "+819012345678",
    "+81-090-1234-5678",
    "81-90-1234-5678",
    "9012345678",
]


@pytest.mark.parametrize("name", TARO + TARO_KANA)
@pytest.mark.parametrize("phone", PHONE)
def test_a_person_is_found_by_name_and_phone_however_both_are_typed(leak, name: str, phone: str) -> None:
    assert ids(find(incident=leak, name=name, phone=phone)) == ["P1"]


@pytest.mark.parametrize(
    "card", ["1234", "１２３４", "************1234", "**** **** **** 1234", "xxxx-xxxx-xxxx-1234"]
)
@pytest.mark.parametrize("name", ["山田太郎様", "ﾔﾏﾀﾞ ﾀﾛｳ", "やまだたろう"])
def test_a_person_is_found_by_name_and_card_last4(leak, name: str, card: str) -> None:
    assert ids(find(incident=leak, name=name, card_last4=card)) == ["P1"]


@pytest.mark.parametrize(
    "postal", ["100-0001", "1000001", "〒100-0001", "１００－０００１", "〒 100ー0001", "100‐0001"]
)
@pytest.mark.parametrize("name", ["山田 太郎", "ヤマダタロウ"])
def test_a_person_is_found_by_postal_code_and_name(leak, name: str, postal: str) -> None:
    assert ids(find(incident=leak, name=name, postal_code=postal)) == ["P1"]


@pytest.mark.parametrize(
    "email",
    [
        "taro@example.jp",
        "TARO@EXAMPLE.JP",
        "mailto:Taro@Example.jp",
        "ＴＡＲＯ＠ＥＸＡＭＰＬＥ．ＪＰ",
        " taro@example.jp\u3000",
    ],
)
def test_a_person_is_found_by_email(leak, email: str) -> None:
    found = find(incident=leak, email=email)
    assert ids(found) == ["P1"] and found[0].role == Role.CONTACT


def test_a_record_written_carelessly_is_found_by_what_the_person_types(leak) -> None:
    """Stored full width, with 様, 邊, half-width kana, (03), mailto: and a masked card; asked plainly."""
    for name in ("渡辺 健", "渡邊健", "わたなべ けん", "ワタナベケン"):
        assert ids(find(incident=leak, name=name, phone="03-1234-5678")) == ["W1"]
        assert ids(find(incident=leak, name=name, card_last4="9876")) == ["W1"]
        assert ids(find(incident=leak, name=name, postal_code="150-0001")) == ["W1"]
    assert ids(find(incident=leak, email="ken.w@example.jp")) == ["W1"]


@pytest.mark.parametrize(
    ("record", "name", "phone"),
    [
        ("V1", "高崎 次郎", "090-5555-6666"),  # 髙 and 﨑 are forms of 高 and 崎
        ("V1", "髙崎次郎", "+81 90 5555 6666"),
        ("V2", "斎藤 三郎", "090-7777-8888"),  # 齋 is a form of 斎
        ("V2", "斉藤 三郎", "090-7777-8888"),  # 斉 is another character, but people write it for 斎
    ],
)
def test_variant_characters_are_folded(leak, record: str, name: str, phone: str) -> None:
    assert ids(find(incident=leak, name=name, phone=phone)) == [record]


def test_a_name_is_compared_by_its_reading_only_when_written_in_kana_alone() -> None:
    form = lookup.name_form
    assert form("やまだ たろう") == form("ﾔﾏﾀﾞ ﾀﾛｳ") == form("ヤマダタロウ")
    assert form("山田 たろう") == form("山田たろう") != form("やまだたろう")
    assert form("佐々木 ゆう") not in ("", form("ササキ ユウ"))
    assert form("Taro Yamada") not in ("", form("たろう やまだ"))
    assert form("髙橋 一郎") == form("高橋一郎")


def test_a_namesake_with_other_contacts_is_not_found(leak) -> None:
    assert ids(find(incident=leak, name="山田 太郎", phone="080-9999-0000")) == ["N1"]
    assert ids(find(incident=leak, name="山田 太郎", phone="090-1234-5679")) == []
    assert ids(find(incident=leak, name="山田 次郎", phone="090-1234-5678")) == []  # another name, same phone
    assert ids(find(incident=leak, name="山田 太郎", card_last4="4321")) == []
    assert ids(find(incident=leak, name="山田 太郎", postal_code="100-0002")) == []
    assert ids(find(incident=leak, email="taro@example.com")) == []


def test_a_guardian_whose_own_data_did_not_leak_is_found_as_guardian(leak) -> None:
    for name in ("鈴木 一郎", "鈴木一郎様", "スズキ イチロウ", "すずきいちろう"):
        for how in ({"phone": "07011112222"}, {"card_last4": "4444"}, {"postal_code": "0600001"}):
            found = find(incident=leak, name=name, **how)
            assert [(hit.record.record_id, hit.role) for hit in found] == [("C1", Role.GUARDIAN)]
    child = find(incident=leak, name="鈴木 はな", phone="070-1111-2222")
    assert [(hit.record.record_id, hit.role) for hit in child] == [("C1", Role.SUBJECT)]


@pytest.mark.parametrize(
    "query",
    [
        {"name": "山田 太郎", "phone": "not a phone"},
        {"name": "山田 太郎", "phone": "12345"},
        {"name": "090-1234-5678", "phone": "090-1234-5678"},  # a phone in the name box
        {"name": "山田 太郎", "card_last4": "123"},
        {"name": "山田 太郎", "card_last4": "4111 1111 1111 1112"},  # fails the check digit
        {"name": "山田 太郎", "postal_code": "100-001"},
        {"name": "-", "phone": "090-1234-5678"},  # a placeholder is no name
        {"name": "山田 太郎", "phone": "\u3000"},
        {"email": "taro@"},
        {"email": "taro@@example.jp"},
        {"email": "-"},
    ],
)
def test_a_value_no_normalizer_accepts_finds_nothing_and_raises_nothing(leak, query: dict[str, str]) -> None:
    assert find(incident=leak, **query) == []


@pytest.mark.parametrize(
    "query",
    [
        {},
        {"name": "山田 太郎"},
        {"phone": "090-1234-5678"},
        {"name": "山田 太郎", "phone": "090-1234-5678", "postal_code": "100-0001"},
        {"name": "山田 太郎", "email": "taro@example.jp"},
    ],
)
def test_asking_without_a_name_and_one_fact_is_a_programming_error_that_names_no_value(
    leak, query: dict[str, str]
) -> None:
    with pytest.raises(TypeError) as raised:
        find(incident=leak, **query)
    assert not any(value in str(raised.value) for value in query.values())


def test_lookups_stay_inside_their_incident(leak, tmp_path: Path) -> None:
    other = create_incident(actor="t", slug="other", name="別件", discovered_on=date(2026, 11, 2))
    assert find(incident=other, name="山田 太郎", phone="090-1234-5678") == []
    import_file(incident=other, path=_write(tmp_path / "again.csv", ROWS[:1]), actor="t")
    [mine] = find(incident=leak, name="山田 太郎", phone="090-1234-5678")
    [theirs] = find(incident=other, name="山田 太郎", phone="090-1234-5678")
    assert mine.record.incident_id == leak.pk and theirs.record.incident_id == other.pk
    # The same person's keys differ between incidents: a dump of the table links no one across them.
    keys = {
        inc: set(LookupKey.objects.filter(record__incident=inc).values_list("key", flat=True))
        for inc in (leak, other)
    }
    assert {bytes(k) for k in keys[leak]}.isdisjoint({bytes(k) for k in keys[other]})


def test_records_without_a_value_store_no_key_for_it(leak) -> None:
    """Empty values are left out: V1 has a name and a phone only, so it has exactly one key."""
    v1 = LeakRecord.objects.get(record_id="V1")
    assert LookupKey.objects.filter(record=v1).count() == 1
    assert not LookupKey.objects.filter(key=b"").exists()


def test_the_key_table_holds_no_plaintext(leak) -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT * FROM records_lookupkey")
        dump = repr(cursor.fetchall())
    for value in ["山田", "ヤマダ", "5678", "819012345678", "taro@", "1234", "1000001"]:
        assert value not in dump


def test_the_lookup_reads_the_key_index(leak) -> None:
    with CaptureQueriesContext(connection) as queries:
        find(incident=leak, name="山田 太郎", phone="090-1234-5678")
    key_query = next(q["sql"] for q in queries.captured_queries if "records_lookupkey" in q["sql"])
    with transaction.atomic(), connection.cursor() as cursor:
        if connection.vendor == "postgresql":  # a tiny table is read whole unless told otherwise
            cursor.execute("SET LOCAL enable_seqscan = off")
            cursor.execute("SET LOCAL enable_bitmapscan = off")
            cursor.execute(f"EXPLAIN {key_query}")
            plan = " ".join(row[0] for row in cursor.fetchall())
            assert "records_lookupkey_pkey" in plan
        else:
            cursor.execute(f"EXPLAIN QUERY PLAN {key_query}")
            plan = " ".join(str(row[-1]) for row in cursor.fetchall())
            assert "USING COVERING INDEX sqlite_autoindex_records_lookupkey_1 (key=?)" in plan


def test_a_deleted_record_takes_its_keys_with_it(leak) -> None:
    record = LeakRecord.objects.get(record_id="P1")
    assert LookupKey.objects.filter(record=record).exists()
    record.delete()
    assert not LookupKey.objects.filter(record_id=record.pk).exists()
    assert find(incident=leak, name="山田 太郎", phone="090-1234-5678") == []


def test_reindex_recomputes_keys_under_a_new_index_key_and_is_idempotent(leak, capsys) -> None:
    assert ids(find(incident=leak, name="山田 太郎", phone="090-1234-5678")) == ["P1"]
    with override_settings(OWABI_INDEX_KEY=bytes(range(32))):
        assert (
            find(incident=leak, name="山田 太郎", phone="090-1234-5678") == []
        )  # the old keys no longer match
        call_command("keys", "reindex", "--batch", "2")
        assert f"{len(ROWS)} records scanned, {len(ROWS)} recomputed" in capsys.readouterr().out
        assert ids(find(incident=leak, name="ヤマダタロウ", phone="090-1234-5678")) == ["P1"]
        assert ids(find(incident=leak, email="TARO@example.jp")) == ["P1"]
        assert ids(find(incident=leak, name="すずきいちろう", card_last4="4444")) == ["C1"]
        call_command("keys", "reindex")
        assert "0 recomputed" in capsys.readouterr().out
    assert audit.recent(limit=1)[0].action == "records.reindex"


def test_reindex_restores_keys_lost_or_left_over(leak) -> None:
    """An interrupted or partial state (some records without keys, stray keys) ends as a fresh import."""
    expected = set(LookupKey.objects.values_list("key", "record_id"))
    p1 = LeakRecord.objects.get(record_id="P1")
    LookupKey.objects.filter(record=p1).delete()
    LookupKey.objects.create(key=b"\x01" * 16, record=LeakRecord.objects.get(record_id="N1"))
    result = lookup.reindex(actor="t", batch=4)
    assert (result.scanned, result.changed) == (len(ROWS), 2)
    assert {(bytes(k), r) for k, r in LookupKey.objects.values_list("key", "record_id")} == {
        (bytes(k), r) for k, r in expected
    }


def test_import_ids_continue_past_deleted_records(leak, tmp_path: Path) -> None:
    """Record ids are taken before the write (so keys can point at them); a deleted id is never reused."""
    last = LeakRecord.objects.order_by("-pk").first()
    assert last is not None
    last_pk = last.pk
    last.delete()
    import_file(incident=leak, path=_write(tmp_path / "more.csv", [["M1", *ROWS[0][1:]]]), actor="t")
    fresh = LeakRecord.objects.get(record_id="M1")
    assert fresh.pk > last_pk
    assert sorted(ids(find(incident=leak, name="山田 太郎", phone="090-1234-5678"))) == ["M1", "P1"]


@pytest.mark.django_db(transaction=True)
def test_upgrading_from_the_column_indexes_then_reindexing_finds_old_records() -> None:
    """Migration 0010 needs no key and computes nothing; `owabi keys reindex` after it does."""
    executor = MigrationExecutor(connection)
    executor.migrate([("records", "0009_blind_indexes_without_empty"), ("incidents", "0001_initial")])
    old = executor.loader.project_state([("records", "0009_blind_indexes_without_empty")]).apps
    try:
        incident = old.get_model("incidents", "Incident").objects.create(
            slug="up", name="up", discovered_on="2026-11-01"
        )
        source = old.get_model("records", "SourceFile").objects.create(
            incident=incident, source="s", file_name="f.csv", sha256="0" * 64
        )
        model = old.get_model("records", "LeakRecord")
        model.objects.create(
            id=rowids.allocate(model, 1)[0],  # historical models do not reserve ids; values bind to them
            incident=incident,
            source_file=source,
            record_id="R1",
            line_no=2,
            sealed={"subject_name": "山田 太郎", "phone": "090-1234-5678"},
            bx_name_phone=b"\x02" * 16,
        )
    finally:
        executor = MigrationExecutor(connection)
        executor.loader.build_graph()
        executor.migrate(executor.loader.graph.leaf_nodes())
    from owabi.incidents.models import Incident

    upgraded = Incident.objects.get(slug="up")
    assert find(incident=upgraded, name="山田 太郎", phone="090-1234-5678") == []
    lookup.reindex(actor="t")
    assert ids(find(incident=upgraded, name="山田 太郎", phone="090-1234-5678")) == ["R1"]
