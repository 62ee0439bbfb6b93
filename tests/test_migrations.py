"""Data migrations carry existing data forward."""

from __future__ import annotations

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from owabi.core import rowids

pytestmark = pytest.mark.django_db(transaction=True)

BEFORE = [("records", "0004_match_keys_and_pointers"), ("incidents", "0001_initial")]
AFTER = [("records", "0005_membership")]


def _migrate(targets: list[tuple[str, str]]):
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(targets)
    return executor.loader.project_state(targets).apps


def test_record_subject_links_move_to_the_membership_table() -> None:
    old = _migrate(BEFORE)
    try:
        incident = old.get_model("incidents", "Incident").objects.create(
            slug="m", name="m", discovered_on="2026-11-01"
        )
        source = old.get_model("records", "SourceFile").objects.create(
            incident=incident, source="s", file_name="f.csv", sha256="0" * 64
        )
        subject = old.get_model("records", "Subject").objects.create(incident=incident, number=1)
        model = old.get_model("records", "LeakRecord")
        for i, linked in enumerate([True, True, False]):
            model.objects.create(
                id=rowids.allocate(model, 1)[0],  # historical models do not reserve ids; values bind to them
                incident=incident,
                source_file=source,
                record_id=f"R{i}",
                line_no=i + 2,
                sealed={"subject_name": f"名前{i}"},
                subject=subject if linked else None,
            )
        new = _migrate(AFTER)
        links = new.get_model("records", "Membership").objects.order_by("record__record_id")
        assert [(m.record.record_id, m.subject_id) for m in links] == [("R0", subject.pk), ("R1", subject.pk)]
    finally:
        _migrate(MigrationExecutor(connection).loader.graph.leaf_nodes())
