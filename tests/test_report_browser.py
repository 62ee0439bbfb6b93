"""The regulator page and the public announcement in a real browser: a manager signs in with both
factors, writes the 公表 on /staff/report (a name from the records refused), publishes it, and anyone
reads it on the portal at phone width. Each page is checked by axe-core and photographed."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from owabi.core import staff
from owabi.reports import services
from tests.browser import DESK, accessibility_problems, shots
from tests.portal_support import PortalData
from tests.staff_clients import _token

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]

BODY = (
    "【何が起きたか】\n当社の会員システムから、お客さまの氏名・住所・電話番号などが外部に流出しました。\n\n"
    "【お客さまへのお願い】\n当社を名乗る不審な電話やメールにご注意ください。カード番号をおたずねすることはありません。\n\n"
    "【お問い合わせ】\n専用窓口 0120-000-000（毎日 9時〜21時）"
)


def _check(page: Any, camera: Any, name: str) -> None:
    assert accessibility_problems(page) == [], name
    camera.take(page, name)


def test_a_manager_publishes_the_announcement_and_anyone_reads_it(
    live_server: Any, portal_data: PortalData, browser: Any, phone: Any, tmp_path: Path
) -> None:
    incident = portal_data.incident
    services.save_draft(incident=incident, stage="final", actor="t", texts={"prevention": "権限の見直し"})  # type: ignore[arg-type]
    made = staff.add_staff(username="manager1", roles=["manager"], actor="test")
    camera = shots(tmp_path, "report")
    context = browser.new_context(viewport=DESK, locale="ja-JP", bypass_csp=True)
    page = context.new_page()
    page.goto(f"{live_server.url}/staff/login")
    page.fill("input[name=username]", "manager1")
    page.fill("input[name=password]", made.password)
    page.click("button[type=submit]")
    page.fill("input[name=token]", _token("manager1"))
    page.click("button[type=submit]")
    page.goto(f"{live_server.url}/staff/report?stage=final")
    page.fill("#announcement_title", "個人情報の流出に関するお詫びとお知らせ")
    page.fill("#announcement_body", BODY + "\n小林 誠 様には別途ご連絡します。")
    page.get_by_role("button", name="公表文を保存する", exact=True).click()
    assert "氏名" in page.inner_text("[role=alert]") and "小林" not in page.inner_text("[role=alert]")
    _check(page, camera, "staff-refused")
    page.fill("#announcement_body", BODY)
    page.get_by_role("button", name="公表文を保存する", exact=True).click()
    page.get_by_role("button", name="第1版を公開する", exact=True).click()
    assert "公開中：第1版" in page.inner_text("main")
    _check(page, camera, "staff-report")
    context.close()

    phone.goto(f"{live_server.url}/")
    phone.get_by_role("link", name="お詫びとお知らせ（公表文）を読む").click()
    assert "当社の会員システムから" in phone.inner_text("main")
    _check(phone, camera, "announcement")
