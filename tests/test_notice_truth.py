"""Every notice true for the person holding it, read as its reader would, over a synthetic incident: the risk
and advice of exactly the data groups that leaked for its people, no card advice without a card, each card
once, services by their human names (never an internal label or a file name), the incident's count and
dates, and "you", "you and your family" or "your family" as the case is."""

from __future__ import annotations

import re
from datetime import date
from pathlib import Path

import pytest
from django.core.management import call_command

from owabi.incidents.services import create_incident
from owabi.notices import letters, setup
from owabi.notices.models import Notice, NoticeSetup
from owabi.notices.render import long_date, render
from owabi.notices.services import prepare
from owabi.records.models import Subject
from owabi.records.resolve import resolve
from owabi.records.services import import_file
from tests.conftest import REPO

pytestmark = pytest.mark.django_db
DEMO = REPO / "docs" / "notice-setup.demo.toml"
AS_OF = date(2026, 12, 1)
# How a Japanese notice titles the risk and advice of each group, by the categories in it: written out
# here rather than read from owabi.notices.advice, so that the test says what the reader must see.
TITLES = {
    **dict.fromkeys(("card_number", "card_expiry", "card_security_code", "card_holder"), "クレジットカード"),
    **dict.fromkeys(("phone", "fax"), "電話番号"),
    "email": "メールアドレス",
    **dict.fromkeys(("postal_code", "address"), "住所"),
    "birth_date": "生年月日",
    **dict.fromkeys(
        ("relationship", "guardian_name", "guardian_kana", "expected_delivery_date"), "ご家族の情報"
    ),
    **dict.fromkeys(("name", "kana", "gender"), "お名前"),
}
LABELS = re.compile(r"\b(zemi|kodomo|shop|event|club|leak-\d+|synthetic)\b")


@pytest.fixture
def incident_(db: None, tmp_path: Path):
    incident = create_incident(
        actor="t",
        slug="truth",
        name="truth",
        discovered_on=date(2026, 11, 2),
        occurred_from=date(2026, 9, 1),
        occurred_to=date(2026, 10, 20),
        declared_categories=["card_security_code"],
    )
    leak = tmp_path / "leak-600.csv"
    call_command("synth", records=600, seed=11, out=str(leak))
    import_file(incident=incident, path=leak, source="synthetic", actor="t")
    resolve(incident=incident, actor="t", as_of=AS_OF)
    data = setup.load(DEMO)
    data["sources"]["ja"]["synthetic"] = "当社の会員サービス"
    setup.apply(incident=incident, data={**data, "policy": "both"}, actor="t")
    prepare(incident=incident, actor="t")
    return incident


def _texts(notice: Notice, the_setup: NoticeSetup) -> list[str]:
    if notice.channel == "letter":
        return [letters.letter_text(notice, the_setup)]
    mail = render(notice, the_setup)
    return [mail.subject + "\n" + mail.text, re.sub(r"<[^>]+>", "", mail.html)]  # the HTML as it reads


def test_every_notice_tells_its_reader_exactly_what_is_true_for_them(incident_) -> None:
    the_setup = NoticeSetup.objects.get(incident=incident_)
    subjects = Subject.objects.filter(incident=incident_).count()
    notices = list(Notice.objects.filter(incident=incident_))
    seen = {"card": 0, "no card": 0, "guardian": 0, "self and family": 0, "self": 0, "shared card": 0}
    for notice in notices:
        content = notice.content
        people, cards = content["people"], content["cards"]
        expected = {TITLES[item] for person in people for item in person["items"] if item in TITLES}
        holders = {number for card in cards for number in card["holders"]}
        for person in people:  # a declared security code only for people with card data
            if "card_security_code" in person["items"]:
                assert person["number"] in holders or "card_number" in person["items"]
        own = [person for person in people if person["self"]]
        for text in _texts(notice, the_setup):
            for title in set(TITLES.values()):
                assert (f"【{title}】" in text) == (title in expected), (title, notice.pk)
            if not cards:
                assert "カードの利用明細" not in text and "セキュリティコード" not in text
                assert "下4桁" not in text
            for card in cards:  # each card once, however the records spelt its brand
                same = sum(1 for other in cards if other["last4"] == card["last4"])
                assert text.count(f"下4桁 {card['last4']}") == same
            assert not LABELS.search(text), LABELS.search(text)
            assert ".csv" not in text
            assert f"対象となる方：{subjects:,}名（{long_date(date.today(), 'ja')}現在）" in text
            assert "当社が知った日：2026年11月2日" in text
            assert "起きた時期：2026年9月1日〜2026年10月20日" in text
            assert f"{the_setup.portal_url}/check" in text and the_setup.phone in text
            assert "代表取締役社長　山田 太郎" in text
            if content["to"]["kind"] == "guardian":
                assert not own and "ご家族の個人情報が外部に" in text and "あなたさま" not in text
            elif len(people) > 1:
                assert len(own) == 1 and "あなたさまとご家族の個人情報" in text
            else:
                assert len(own) == 1 and "あなたさまの個人情報" in text and "ご家族の個人情報" not in text
            for person in people:
                for service in person["sources"]["ja"]:
                    assert service in text
        if own:  # the salutation and the list write the name the same way
            assert content["to"]["name"] == own[0]["name"]
        seen["card" if cards else "no card"] += 1
        seen["shared card"] += any(len(card["holders"]) > 1 for card in cards)
        audience = "guardian" if content["to"]["kind"] == "guardian" else "self"
        seen["self and family" if audience == "self" and len(people) > 1 else audience] += 1
    assert all(seen.values()), seen  # every case above was met


def test_the_count_a_notice_stated_stays_what_it_stated(incident_, tmp_path: Path) -> None:
    the_setup = NoticeSetup.objects.get(incident=incident_)
    first = Notice.objects.filter(incident=incident_, channel="email").order_by("pk").first()
    before = Subject.objects.filter(incident=incident_).count()
    late = tmp_path / "late.csv"
    late.write_text(
        "record_id,source,subject_name,subject_birth_date,email\nX1,zemi,森 一郎,1970-01-01,m@example.jp\n",
        encoding="utf-8",
    )
    import_file(incident=incident_, path=late, actor="t")
    resolve(incident=incident_, actor="t", as_of=AS_OF)
    prepare(incident=incident_, actor="t")
    added = Notice.objects.filter(incident=incident_).order_by("-pk").first()
    assert f"対象となる方：{before:,}名" in render(first, the_setup).text  # as it was said
    assert f"対象となる方：{before + 1:,}名" in render(added, the_setup).text
