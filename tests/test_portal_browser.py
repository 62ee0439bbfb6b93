"""Whole journeys through the portal in a real browser at phone width, in Japanese and in English:
each page is checked by axe-core (no serious or critical WCAG 2.2 AA violation) and photographed."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from owabi.notices import codes
from owabi.redress.models import Choice, Claim, Request
from tests.browser import accessibility_problems, shots
from tests.portal_support import PortalData

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]


def _check(page: Any, camera: Any, name: str) -> None:
    assert accessibility_problems(page) == [], name
    camera.take(page, name)


def _receipt_png(tmp_path: Path) -> Path:
    path = tmp_path / "receipt.png"
    Image.new("RGB", (600, 800), "white").save(path)
    return path


def test_a_card_holder_signs_in_chooses_asks_and_claims_in_japanese(
    live_server: Any, portal_data: PortalData, phone: Any, tmp_path: Path
) -> None:
    camera = shots(tmp_path, "ja")
    notice = portal_data.adult
    page = phone
    page.goto(f"{live_server.url}/?code={codes.group(notice.code)}")
    _check(page, camera, "home")
    assert page.input_value("#id_code") == codes.group(notice.code)
    page.fill("#id_key", "WRONGKEY22")
    page.click("button.primary")
    assert "正しくありません" in page.inner_text("#signin-error")
    _check(page, camera, "wrong-key")
    page.fill("#id_code", codes.group(notice.code).lower())
    page.fill("#id_key", codes.login_key(notice.code))
    page.click("button.primary")
    assert page.url.endswith("/me")
    assert "VISA" in page.inner_text("main") or "4242" in page.inner_text("main")
    _check(page, camera, "what-leaked")

    page.locator(".todo button").first.click()
    assert page.locator(".todo--done").count() == 1
    page.get_by_role("link", name="お詫びの品を選ぶ", exact=True).click()
    _check(page, camera, "choose")
    page.check("input[value=emoney]")
    page.get_by_role("button", name="確認画面へ", exact=True).click()
    _check(page, camera, "confirm")
    page.get_by_role("button", name="確定する", exact=True).click()
    code = Choice.objects.get().gift_code.sealed["code"]
    assert code in page.inner_text(".giftcode")
    _check(page, camera, "gift-code")
    page.get_by_role("link", name="最初のページへ戻る", exact=True).click()

    page.get_by_role("link", name="依頼する", exact=True).click()
    page.check("input[value=delete]")
    _check(page, camera, "request")
    page.click("button.primary")
    made = Request.objects.get()
    assert made.reference in page.inner_text("main")
    _check(page, camera, "request-done")
    page.get_by_role("link", name="最初のページへ戻る", exact=True).click()

    page.get_by_role("link", name="請求する", exact=True).click()
    page.check("input[value=reissue_fee]")
    page.fill("#id_amount_yen", "1100")
    page.fill("#id_description", "カードを再発行しました")
    page.set_input_files("#id_evidence", str(_receipt_png(tmp_path)))
    page.fill("#id_bank_code", "0001")
    page.fill("#id_branch_code", "001")
    page.fill("#id_account_number", "1234567")
    page.fill("#id_holder", "コバヤシ　マコト")
    _check(page, camera, "claim-form")
    page.click("button.primary")  # not agreed yet: the form says what is missing, next to the box
    assert page.locator("#id_agree_error").count() == 1
    _check(page, camera, "claim-error")
    page.set_input_files("#id_evidence", str(_receipt_png(tmp_path)))
    page.check("#id_agree")
    page.click("button.primary")
    claim = Claim.objects.get()
    assert claim.reference in page.inner_text("main") and "審査待ち" in page.inner_text("main")
    _check(page, camera, "claim-status")

    page.get_by_role("button", name="ログアウト", exact=True).click()
    page.goto(f"{live_server.url}/check")
    page.fill("#id_code", codes.group(notice.code))
    page.click("button.primary")
    assert "小＊ 誠＊" in page.inner_text(".result")
    _check(page, camera, "genuine")
    page.fill("#id_code", codes.group(codes.new_code()))
    page.click("button.primary")
    assert "お送りしていません" in page.inner_text(".result")
    _check(page, camera, "not-ours")

    page.goto(live_server.url)
    page.get_by_role("link", name="自分の情報が流出したか確認する", exact=True).click()
    _check(page, camera, "am-i-affected")
    page.fill("#id_name", "小林 誠")
    page.fill("#id_phone", "072-222-3333")
    page.click("button.primary")
    assert "受け付けました" in page.inner_text("main")
    _check(page, camera, "am-i-affected-done")


def test_a_guardian_reads_in_english_and_has_a_book_card_posted(
    live_server: Any, portal_data: PortalData, phone: Any, tmp_path: Path
) -> None:
    camera = shots(tmp_path, "en")
    notice = portal_data.guardian
    page = phone
    page.goto(live_server.url)
    page.get_by_role("link", name="English", exact=True).click()
    assert page.locator("html").get_attribute("lang") == "en"
    _check(page, camera, "home")
    page.fill("#id_code", codes.group(notice.code))
    page.fill("#id_key", codes.login_key(notice.code))
    page.click("button.primary")
    text = page.inner_text("main")
    assert "中村 結衣" in text and "中村 蓮" in text and "What leaked" in text
    assert "card statements" not in text  # no card of theirs leaked
    _check(page, camera, "what-leaked")
    page.locator("a.button.primary").first.click()
    page.check("input[value=book_card]")
    page.fill("#id_address", "東京都杉並区阿佐谷南9-9-9")
    page.get_by_role("button", name="Continue", exact=True).click()
    assert "阿佐谷南9-9-9" in page.inner_text("main")
    _check(page, camera, "confirm")
    page.get_by_role("button", name="Confirm", exact=True).click()
    assert Choice.objects.get().details["address"] == "東京都杉並区阿佐谷南9-9-9"
    _check(page, camera, "done")
    page.goto(f"{live_server.url}/announcement")
    _check(page, camera, "announcement")
    page.goto(f"{live_server.url}/faq")
    _check(page, camera, "faq")


def test_the_pages_work_without_javascript(live_server: Any, portal_data: PortalData, browser: Any) -> None:
    context = browser.new_context(viewport={"width": 390, "height": 844}, java_script_enabled=False)
    page = context.new_page()
    notice = portal_data.adult
    page.goto(live_server.url)
    page.fill("#id_code", codes.group(notice.code))
    page.fill("#id_key", codes.login_key(notice.code))
    page.click("button.primary")
    page.get_by_role("link", name="お詫びの品を選ぶ", exact=True).click()
    page.check("input[value=donation]")
    page.get_by_role("button", name="確認画面へ", exact=True).click()
    page.get_by_role("button", name="確定する", exact=True).click()
    assert Choice.objects.get().option.key == "donation"
    context.close()
