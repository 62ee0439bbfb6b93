from __future__ import annotations

import csv
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from owabi.records.models import LeakRecord, Membership, Recipient, Subject
from owabi.records.services import import_file

pytestmark = pytest.mark.django_db


def test_export_clusters_writes_one_row_per_record(incident, tmp_path: Path) -> None:
    path = tmp_path / "x.csv"
    path.write_text("record_id,氏名\nA,山田 太郎\nB,山田 太郎\nC,佐藤 花子\n", encoding="utf-8")
    import_file(incident=incident, path=path, actor="t")
    recipient = Recipient.objects.create(incident=incident, number=7, kind=Recipient.Kind.SELF)
    subject = Subject.objects.create(incident=incident, number=3, recipient=recipient)
    for record in LeakRecord.objects.filter(record_id__in=["A", "B"]):
        Membership.objects.create(record=record, subject=subject)
    out = tmp_path / "clusters.csv"
    call_command("export", "clusters", "--incident", incident.slug, "--out", str(out))
    with out.open(encoding="utf-8") as handle:
        rows = list(csv.reader(handle))
    assert rows == [
        ["record_id", "subject_id", "recipient_id"],
        ["A", "S3", "P7"],
        ["B", "S3", "P7"],
        ["C", "", ""],
    ]


def test_export_needs_a_known_incident(tmp_path: Path) -> None:
    with pytest.raises(CommandError, match="no incident"):
        call_command("export", "clusters", "--incident", "nope", "--out", str(tmp_path / "x.csv"))
