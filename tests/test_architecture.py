"""The layering docs/architecture.md promises, checked on the source: core imports no domain app, and
other apps reach the notices app only through its front door (services, selectors, models)."""

from __future__ import annotations

import ast
from pathlib import Path

OWABI = Path(__file__).resolve().parent.parent / "owabi"
DOMAIN = ("incidents", "records", "notices", "redress", "reports", "portal", "backoffice", "demo", "api")
NOTICES_FRONT_DOOR = {"owabi.notices.services", "owabi.notices.selectors", "owabi.notices.models"}


def imports(path: Path) -> set[str]:
    """Every module `path` imports (`from owabi.x import y` counts as owabi.x.y and owabi.x)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
            found |= {f"{node.module}.{alias.name}" for alias in node.names}
    return found


def sources(app: str) -> list[Path]:
    return [path for path in (OWABI / app).rglob("*.py") if "migrations" not in path.parts]


def test_core_imports_no_domain_app() -> None:
    offending = {
        f"{path.relative_to(OWABI)}: {name}"
        for path in sources("core")
        for name in imports(path)
        if name.split(".")[:2] in [["owabi", app] for app in DOMAIN]
    }
    assert not offending


def test_other_apps_reach_notices_through_its_front_door() -> None:
    offending = set()
    for app in DOMAIN:
        if app == "notices":
            continue
        for path in sources(app):
            for name in imports(path):
                parts = name.split(".")
                if parts[:2] != ["owabi", "notices"] or len(parts) < 3:
                    continue
                if ".".join(parts[:3]) not in NOTICES_FRONT_DOOR:
                    offending.add(f"{path.relative_to(OWABI)}: {name}")
    assert not offending


def test_commands_parse_arguments_and_call_the_front_door() -> None:
    """`owabi notices …` parses its arguments and calls services or selectors, like any other caller."""
    offending = {
        f"{path.relative_to(OWABI)}: {name}"
        for path in (OWABI / "notices" / "management" / "commands").glob("*.py")
        for name in imports(path)
        if name.split(".")[:2] == ["owabi", "notices"]
        and len(name.split(".")) > 2
        and ".".join(name.split(".")[:3]) not in NOTICES_FRONT_DOOR
    }
    assert not offending
