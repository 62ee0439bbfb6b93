"""A support day in the back office in a real browser, at desktop width: a manager signs in with a
password and then a TOTP code, finds a caller by name and phone, opens their timeline, the resolution
review queue and a pair, the claims queue and a claim with its receipt rendered as an image, the payouts
page where a batch is made, and the dashboard. Each page is checked by axe-core and photographed
(staff-NN-*.png)."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from django.utils import timezone

from owabi.core import staff
from owabi.redress.models import Claim
from tests.browser import DESK, accessibility_problems, shots
from tests.portal_support import PortalData
from tests.staff_clients import _token
from tests.test_backoffice import claim  # noqa: F401  (fixture: a claim with a real PNG receipt)
from tests.test_backoffice_payouts import approved  # noqa: F401  (fixture: three approved claims)
from tests.test_backoffice_support import _twins_pair

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]


def _check(page: Any, camera: Any, name: str, heading: str) -> None:
    assert heading in page.inner_text("h1"), name
    assert "Server Error" not in page.content(), name
    assert accessibility_problems(page) == [], name
    camera.take(page, name)


def test_a_manager_works_through_a_support_day(
    live_server: Any,
    portal_data: PortalData,
    claim: Claim,  # noqa: F811  (filed before the approved ones)
    approved: list[Claim],  # noqa: F811
    browser: Any,
    tmp_path: Path,
) -> None:
    pair = _twins_pair(portal_data)
    made = staff.add_staff(username="manager1", roles=["manager"], actor="test")
    camera = shots(tmp_path, "staff")
    context = browser.new_context(viewport=DESK, locale="ja-JP", bypass_csp=True)
    page = context.new_page()
    failed: list[str] = []
    page.on("response", lambda r: failed.append(r.url) if r.status >= 500 else None)

    page.goto(f"{live_server.url}/staff/")
    assert "/staff/login" in page.url  # no page without both factors
    page.fill("#username", "manager1")
    page.fill("#password", made.password)
    _check(page, camera, "signin", "サインイン")
    page.click("button[type=submit]")
    page.fill("#token", _token("manager1"))
    _check(page, camera, "second-factor", "確認コード")
    page.click("button[type=submit]")
    assert page.url.endswith("/staff/") and "ダッシュボード" in page.inner_text("h1")

    page.get_by_role("link", name="お問い合わせ対応", exact=True).click()
    page.fill("#name", "小林 誠")
    page.fill("#phone", "072-222-3333")
    page.get_by_role("button", name="検索する", exact=True).click()
    assert "検索結果（1人）" in page.inner_text("main")
    _check(page, camera, "search", "検索")

    page.get_by_role("link", name="小林 誠", exact=True).click()
    text = page.inner_text("main")
    assert "コバヤシ マコト" in page.inner_text("h1") and claim.reference in text
    _check(page, camera, "timeline", "小林 誠")

    page.get_by_role("link", name="名寄せの確認", exact=True).click()
    assert "T1" in page.inner_text("main") and "山本" not in page.inner_text("main")
    _check(page, camera, "review-queue", "名寄せの確認")
    page.get_by_role("link", name=f"#{pair.pk}", exact=True).click()
    text = page.inner_text("main")
    assert "北海道札幌市" in text and "沖縄県那覇市" in text
    _check(page, camera, "review-pair", f"#{pair.pk}")

    page.get_by_role("link", name="請求の審査", exact=True).click()
    assert claim.reference in page.inner_text("main")
    _check(page, camera, "claims", "請求の審査")
    page.get_by_role("link", name=claim.reference, exact=True).click()
    image = page.locator("figure.evidence img").first
    image.scroll_into_view_if_needed()
    page.wait_for_function("() => [...document.images].every(i => i.complete)")
    assert image.evaluate("i => i.naturalWidth") > 0
    _check(page, camera, "claim", claim.reference)

    page.get_by_role("link", name="振込", exact=True).click()
    assert "承認済みで振込待ちの請求：3件" in page.inner_text("main")
    _check(page, camera, "payouts", "振込")
    page.fill("#transfer_date", (timezone.localdate() + timedelta(days=10)).isoformat())
    page.get_by_role("button", name="承認済みの請求でバッチを作成", exact=True).click()
    assert "3件、29,400円" in page.inner_text("main")  # the three approved claims
    _check(page, camera, "payout-batch", "バッチ")
    page.get_by_role("link", name="ダッシュボード", exact=True).click()
    assert "流出したレコード" in page.inner_text(".funnel")
    _check(page, camera, "dashboard", "ダッシュボード")
    assert failed == []
    context.close()
