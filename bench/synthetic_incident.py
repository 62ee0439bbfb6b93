"""Shared by the notice benchmarks: a synthetic incident ready for notices (synth -> import -> resolve ->
the demo's notice setup with policy "both"), in the database Django is set up with."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent


def build(records: int, work: Path) -> Any:
    """The incident "bench", made afresh (migrations applied first)."""
    import django
    from django.core.management import call_command

    from owabi.incidents.services import create_incident
    from owabi.notices import setup
    from owabi.records.resolve import resolve
    from owabi.records.services import import_file

    call_command("migrate", verbosity=0)
    incident = create_incident(
        actor="bench", slug="bench", name="bench", discovered_on=django.utils.timezone.localdate()
    )
    leak = work / "leak.csv"
    call_command("synth", records=records, seed=5, out=str(leak), stdout=io.StringIO())
    import_file(incident=incident, path=leak, actor="bench")
    resolve(incident=incident, actor="bench")
    example = setup.load(REPO / "docs" / "notice-setup.demo.toml")
    setup.apply(incident=incident, data={**example, "policy": "both"}, actor="bench")
    return incident
