"""Sealed values are bound to their row as well as their column (issue 15, item 8): an insider who swaps
two rows' blobs, or copies one into another row, gets a value that does not open, not another person's
data under this person's name. Values written by the release before (bound to the column only) open
during an upgrade window and are re-bound online by `owabi keys rotate`."""

from __future__ import annotations

import logging
import threading
from pathlib import Path

import pytest
from django.conf import settings
from django.core import checks
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection, connections, models
from django.test import override_settings
from django.test.utils import isolate_apps

from owabi.core import crypto, keys, rowids
from owabi.core.fields import RowBound, SealedJSONField, open_values
from owabi.notices.models import Notice
from owabi.records.models import LeakRecord, MatchBatch
from owabi.records.services import import_file
from owabi.redress.models import GiftCode
from tests.portal_support import PortalData

pytestmark = pytest.mark.django_db


def _raw(model: type[models.Model], column: str, pk: int) -> bytes:
    table, name = connection.ops.quote_name(model._meta.db_table), connection.ops.quote_name(column)
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {name} FROM {table} WHERE id = %s", [pk])
        return bytes(cursor.fetchone()[0])


def _write_raw(model: type[models.Model], column: str, pk: int, blob: bytes) -> None:
    table, name = connection.ops.quote_name(model._meta.db_table), connection.ops.quote_name(column)
    with connection.cursor() as cursor:
        cursor.execute(f"UPDATE {table} SET {name} = %s WHERE id = %s", [blob, pk])


def _swap(model: type[models.Model], column: str, a: int, b: int) -> None:
    blob_a, blob_b = _raw(model, column, a), _raw(model, column, b)
    _write_raw(model, column, a, blob_b)
    _write_raw(model, column, b, blob_a)


def _import(incident, tmp_path: Path, rows: int = 3) -> list[LeakRecord]:
    path = tmp_path / "leak.csv"
    path.write_text(
        "record_id,氏名,電話番号\n" + "".join(f"R{i},山田 太郎{i},03-1234-{i:04d}\n" for i in range(rows)),
        encoding="utf-8",
    )
    import_file(incident=incident, path=path, actor="t")
    return list(LeakRecord.objects.order_by("pk"))


def test_imported_records_open_with_their_own_row_id_only(incident, tmp_path: Path) -> None:
    first, second, third = _import(incident, tmp_path)
    assert [r.sealed["subject_name"] for r in (first, second, third)] == [
        "山田 太郎0",
        "山田 太郎1",
        "山田 太郎2",
    ]
    assert crypto.version_of(_raw(LeakRecord, "sealed", first.pk)) == crypto.ROW_BOUND

    _swap(LeakRecord, "sealed", first.pk, second.pk)
    for pk in (first.pk, second.pk):
        with pytest.raises(crypto.DecryptionError):
            _ = LeakRecord.objects.get(pk=pk).sealed
    assert LeakRecord.objects.get(pk=third.pk).sealed["subject_name"] == "山田 太郎2"  # untouched rows open
    # Reads that bypass model instances check the row too.
    with pytest.raises(crypto.DecryptionError):
        list(open_values(LeakRecord.objects.filter(pk=first.pk), "sealed"))


def test_a_blob_copied_into_another_row_does_not_open_and_raises_the_alarm(
    incident, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    first, second, _ = _import(incident, tmp_path)
    _write_raw(LeakRecord, "sealed", second.pk, _raw(LeakRecord, "sealed", first.pk))
    with caplog.at_level(logging.CRITICAL, logger="owabi.security"), pytest.raises(crypto.DecryptionError):
        _ = LeakRecord.objects.get(pk=second.pk).sealed
    alarms = [r for r in caplog.records if r.name == "owabi.security" and r.levelno == logging.CRITICAL]
    assert len(alarms) == 1
    line = alarms[0].getMessage()
    assert f"records_leakrecord.sealed row {second.pk}" in line and "owabi keys status" in line
    assert "03-1234-0000" not in caplog.text and "03-1234" not in line  # the row's id, never a value
    assert LeakRecord.objects.get(pk=first.pk).sealed["phone"] == "03-1234-0000"


def test_match_keys_are_bound_to_their_batch(incident, tmp_path: Path) -> None:
    _import(incident, tmp_path)
    path = tmp_path / "more.csv"
    path.write_text("record_id,氏名\nS1,佐藤 花子\n", encoding="utf-8")
    import_file(incident=incident, path=path, actor="t")
    a, b = MatchBatch.objects.order_by("pk").values_list("pk", flat=True)
    _swap(MatchBatch, "keys", a, b)
    with pytest.raises(crypto.DecryptionError):
        _ = MatchBatch.objects.get(pk=a).keys


def test_notice_and_redress_values_are_bound_to_their_rows(portal_data: PortalData) -> None:
    adult, guardian = portal_data.adult, portal_data.guardian
    _swap(Notice, "content", adult.pk, guardian.pk)
    with pytest.raises(crypto.DecryptionError):
        _ = Notice.objects.get(pk=adult.pk).content
    one, two = GiftCode.objects.order_by("pk").values_list("pk", flat=True)[:2]
    _swap(GiftCode, "sealed", one, two)
    with pytest.raises(crypto.DecryptionError):
        _ = GiftCode.objects.get(pk=one).sealed


def test_rows_made_by_save_and_bulk_create_get_the_ids_their_values_are_bound_to(
    portal_data: PortalData,
) -> None:
    option = GiftCode.objects.first().option
    single = GiftCode.objects.create(option=option, sealed={"code": "ONE"}, fingerprint="f-one", batch="b")
    made = GiftCode.objects.bulk_create(
        [
            GiftCode(option=option, sealed={"code": f"BULK{n}"}, fingerprint=f"f{n}", batch="b")
            for n in range(3)
        ]
    )
    for row, code in [(single, "ONE"), *[(m, f"BULK{n}") for n, m in enumerate(made)]]:
        assert GiftCode.objects.get(pk=row.pk).sealed["code"] == code
        assert (
            GiftCode._meta.get_field("sealed").open_row(_raw(GiftCode, "sealed", row.pk), row.pk)["code"]
            == code
        )
    # A row written later without a reserved id still gets a fresh one.
    later = rowids.allocate(GiftCode, 2)
    assert later[0] > max(m.pk for m in made) and later[1] == later[0] + 1


@pytest.mark.django_db(transaction=True)
def test_ids_reserved_at_the_same_time_by_several_connections_never_meet() -> None:
    """Prepare's windows reserve their notice ids in one statement each, while other processes (another
    incident's prepare, reminders) reserve theirs: every id is given once, each reservation in order."""
    reserved: list[list[int]] = []
    failures: list[BaseException] = []
    start = threading.Barrier(3)

    def reserve() -> None:
        try:
            start.wait(timeout=60)
            for _ in range(30):
                reserved.append(rowids.allocate(Notice, 200))
        except BaseException as error:
            failures.append(error)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=reserve) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not failures, failures
    assert len(reserved) == 90 and all(len(ids) == 200 and ids == sorted(ids) for ids in reserved)
    every = [pk for ids in reserved for pk in ids]
    assert len(set(every)) == len(every) == 90 * 200
    assert rowids.allocate(Notice, 1)[0] > max(every)


def test_an_upsert_of_a_sealed_column_is_refused_and_the_row_there_keeps_its_value(
    portal_data: PortalData,
) -> None:
    """On a conflict the row already there keeps its id: a value sealed for the id reserved for the new
    row would be written into it and never open again."""
    there = GiftCode.objects.first()
    before = there.sealed
    again = GiftCode(option=there.option, sealed={"code": "OTHER"}, fingerprint=there.fingerprint, batch="b")
    with pytest.raises(TypeError, match="cannot update the sealed column 'sealed'"):
        GiftCode.objects.bulk_create(
            [again],
            update_conflicts=True,
            unique_fields=["option", "fingerprint"],
            update_fields=["sealed", "batch"],
        )
    assert GiftCode.objects.get(pk=there.pk).sealed == before
    # Updating only plain columns on a conflict, or skipping conflicts, stays allowed.
    GiftCode.objects.bulk_create(
        [again], update_conflicts=True, unique_fields=["option", "fingerprint"], update_fields=["batch"]
    )
    kept = GiftCode.objects.get(pk=there.pk)
    assert kept.batch == "b" and kept.sealed == before
    GiftCode.objects.bulk_create([again], ignore_conflicts=True)
    assert GiftCode.objects.get(pk=there.pk).sealed == before


def test_update_of_many_rows_with_a_plain_value_is_refused(incident, tmp_path: Path) -> None:
    _import(incident, tmp_path)
    with pytest.raises(TypeError, match="bind it to its row"):
        LeakRecord.objects.all().update(sealed={"subject_name": "x"})


def _unbind(model: type[models.Model], column: str, pk: int) -> None:
    """Write row `pk`'s value as the release before did: bound to the column only."""
    field = model._meta.get_field(column)
    plain = field.open_bytes(_raw(model, column, pk), pk)
    _write_raw(model, column, pk, crypto.seal(plain, field.aad, version=crypto.COLUMN_BOUND))


def test_values_from_the_release_before_open_only_in_the_upgrade_window_and_rotate_rebinds_them(
    incident, tmp_path: Path
) -> None:
    first, second, _ = _import(incident, tmp_path)
    _unbind(LeakRecord, "sealed", first.pk)
    _unbind(LeakRecord, "sealed", second.pk)
    with pytest.raises(crypto.DecryptionError, match="not bound to its row"):
        _ = LeakRecord.objects.get(pk=first.pk).sealed
    # Outside the window rotation refuses them too, says so and changes nothing.
    with pytest.raises(CommandError, match="did not open for their rows"):
        call_command("keys", "rotate")
    assert crypto.version_of(_raw(LeakRecord, "sealed", first.pk)) == crypto.COLUMN_BOUND

    with override_settings(OWABI_ACCEPT_UNBOUND_SEALS=True):
        assert LeakRecord.objects.get(pk=first.pk).sealed["subject_name"] == "山田 太郎0"
        assert any("not yet bound" in key for key in keys.count_by_key())
        result = keys.rotate(actor="t")
        assert result.resealed == 2 and result.failed == 0
    assert crypto.version_of(_raw(LeakRecord, "sealed", first.pk)) == crypto.ROW_BOUND
    assert LeakRecord.objects.get(pk=first.pk).sealed["subject_name"] == "山田 太郎0"
    assert LeakRecord.objects.get(pk=second.pk).sealed["subject_name"] == "山田 太郎1"
    assert not any("not yet bound" in key for key in keys.count_by_key())


def test_rotation_does_not_launder_a_swapped_value(incident, tmp_path: Path) -> None:
    first, second, third = _import(incident, tmp_path)
    _swap(LeakRecord, "sealed", first.pk, second.pk)
    swapped = _raw(LeakRecord, "sealed", first.pk)
    ring = {**settings.OWABI_DATA_KEYS, "next": bytes(range(32))}
    with override_settings(OWABI_DATA_KEYS=ring, OWABI_DATA_KEY_ID="next"):
        result = keys.rotate(actor="t")
        assert result.failed == 2  # the two swapped values are not re-sealed for the rows they sit in
        assert _raw(LeakRecord, "sealed", first.pk) == swapped
        assert crypto.key_id_of(_raw(LeakRecord, "sealed", third.pk)) == "next"
        with pytest.raises(crypto.DecryptionError):
            _ = LeakRecord.objects.get(pk=first.pk).sealed


def test_a_model_with_a_sealed_column_must_be_row_bound() -> None:
    with isolate_apps("owabi.records"):

        class Loose(models.Model):  # noqa: DJ008
            secret = SealedJSONField()

            class Meta:
                app_label = "records"

        class Bound(RowBound):
            secret = SealedJSONField()

            class Meta:
                app_label = "records"

        assert [e.id for e in Loose._meta.get_field("secret").check()] == ["owabi.E001"]
        assert [e.id for e in Bound._meta.get_field("secret").check() if isinstance(e, checks.Error)] == []


def test_a_value_that_is_not_sealed_at_all_is_counted_and_left_by_rotation(incident, tmp_path: Path) -> None:
    first, second, _ = _import(incident, tmp_path)
    _write_raw(LeakRecord, "sealed", first.pk, b"\x07junk")
    assert keys.count_by_key().get("(not a sealed value)") == 1
    result = keys.rotate(actor="t")
    assert result.failed == 1 and _raw(LeakRecord, "sealed", first.pk) == b"\x07junk"
    assert LeakRecord.objects.get(pk=second.pk).sealed["subject_name"] == "山田 太郎1"


def test_bulk_openers_and_sealers_give_what_one_row_at_a_time_gives_and_refuse_the_same(
    incident, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """row_opener/row_sealer (notices prepare's windows) look the key up once per window; a value that is
    not an ordinary row-bound one goes the one-at-a-time way, with its alarm."""
    first, second, third, erased = _import(incident, tmp_path, rows=4)
    field = LeakRecord._meta.get_field("sealed")
    _unbind(LeakRecord, "sealed", second.pk)
    _write_raw(LeakRecord, "sealed", erased.pk, crypto.ERASED)
    _write_raw(LeakRecord, "sealed", third.pk, _raw(LeakRecord, "sealed", first.pk))  # copied
    open_row = field.row_opener()
    assert open_row(_raw(LeakRecord, "sealed", first.pk), first.pk)["subject_name"] == "山田 太郎0"
    assert open_row(_raw(LeakRecord, "sealed", erased.pk), erased.pk) == {}
    with pytest.raises(crypto.DecryptionError, match="not bound to its row"):
        open_row(_raw(LeakRecord, "sealed", second.pk), second.pk)
    with override_settings(OWABI_ACCEPT_UNBOUND_SEALS=True):
        assert open_row(_raw(LeakRecord, "sealed", second.pk), second.pk)["subject_name"] == "山田 太郎1"
    with caplog.at_level(logging.CRITICAL, logger="owabi.security"), pytest.raises(crypto.DecryptionError):
        open_row(_raw(LeakRecord, "sealed", third.pk), third.pk)
    assert f"records_leakrecord.sealed row {third.pk}" in caplog.text and "山田" not in caplog.text

    seal_row = field.row_sealer()
    blob = seal_row({"subject_name": "佐藤 花子"}, first.pk)
    assert blob != seal_row({"subject_name": "佐藤 花子"}, first.pk)  # a fresh nonce each time
    assert crypto.version_of(blob) == crypto.ROW_BOUND
    assert field.open_row(blob, first.pk) == {"subject_name": "佐藤 花子"} == open_row(blob, first.pk)
    with pytest.raises(crypto.DecryptionError):
        field.open_row(blob, second.pk)
