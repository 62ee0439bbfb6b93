"""A real browser for the page tests: Debian's chromium driven by Playwright, at phone width, with
axe-core (vendored, tests/vendor) checking each page for accessibility problems.

The setup installs chromium (./dev); a missing browser fails the tests, it never skips them."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

CHROMIUM = os.environ.get("OWABI_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
AXE = Path(__file__).resolve().parent / "vendor" / "axe-core-4.14.1.min.js"
PHONE = {"width": 390, "height": 844}
DESK = {"width": 1280, "height": 900}  # staff work at desktops
FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """One browser per test module. While it runs, Playwright's sync API keeps an event loop on the
    test's thread, which Django takes for async code; the tests' own database calls are synchronous, so
    Django's check is lifted for the module only (Playwright's documented setting for Django tests), and
    restored so later tests and their subprocesses run with it."""
    from playwright.sync_api import sync_playwright

    if not Path(CHROMIUM).exists():
        pytest.fail(f"no chromium at {CHROMIUM}: ./dev test installs Debian's chromium package")
    before = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    try:
        with sync_playwright() as playwright:
            launched = playwright.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
            yield launched
            launched.close()
    finally:
        if before is None:
            os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
        else:
            os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = before


@pytest.fixture
def phone(browser: Any) -> Iterator[Any]:
    """A page at phone width. bypass_csp lets the test inject axe-core; the site's CSP is tested apart."""
    context = browser.new_context(viewport=PHONE, locale="ja-JP", bypass_csp=True)
    page = context.new_page()
    yield page
    context.close()


def accessibility_problems(page: Any) -> list[dict[str, Any]]:
    """axe-core's serious and critical violations of WCAG 2.2 A/AA on the page as it is now."""
    page.add_script_tag(path=str(AXE))
    violations = page.evaluate(
        """async () => (await axe.run(document, {runOnly: {type: 'tag', values:
            ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'wcag22aa']}})).violations
            .map(v => ({id: v.id, impact: v.impact, nodes: v.nodes.map(n => n.target.join(' '))}))"""
    )
    return [v for v in violations if v["impact"] in ("serious", "critical")]


class Shots:
    """Screenshots of each step: into OWABI_SCREENSHOTS (e.g. docs/screenshots) when set, else tmp."""

    def __init__(self, folder: Path, prefix: str) -> None:
        self.folder, self.prefix, self.count = folder, prefix, 0
        folder.mkdir(parents=True, exist_ok=True)

    def take(self, page: Any, name: str) -> None:
        self.count += 1
        page.screenshot(path=str(self.folder / f"{self.prefix}-{self.count:02d}-{name}.png"), full_page=True)


def shots(tmp_path: Path, prefix: str) -> Shots:
    folder = os.environ.get("OWABI_SCREENSHOTS")
    return Shots(Path(folder) if folder else tmp_path, prefix)
