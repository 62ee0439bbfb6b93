"""An incident as the portal sees it: records imported and resolved, notices prepared, the compensation
catalog set and a gift-code pool imported. Recipients: a guardian of two children (e-mail), an adult
with a card (e-mail), and two 山本 花子 in two prefectures with birth dates years apart who share only a
card's last 4 digits: resolution keeps them apart (two notices), and the redress check holds the second
choice, since one name with one card is likely one person (a mistyped birth date): the second payout."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from pathlib import Path

import pytest
from django.test import Client

from owabi.notices import codes
from owabi.notices import setup as notice_setup
from owabi.notices.models import Notice
from owabi.notices.services import prepare
from owabi.records.resolve import resolve
from owabi.records.services import import_file
from owabi.redress import services as redress
from tests.conftest import REPO

AS_OF = date(2026, 12, 1)
EXAMPLE = REPO / "docs" / "notice-setup.example.toml"
HEADER = (
    "record_id,subject_name,subject_kana,subject_birth_date,guardian_name,guardian_kana,postal_code,"
    "address,phone,email,card_brand,card_last4\n"
)
ROWS = (
    "K1,中村 結衣,ナカムラ ユイ,2015-07-07,中村 由美,ナカムラ ユミ,166-0004,東京都杉並区阿佐谷南1-2-3,"
    "03-3333-4444,yumi@example.jp,,\n"
    "K2,中村 蓮,ナカムラ レン,2017-01-09,中村 由美,ナカムラ ユミ,166-0004,東京都杉並区阿佐谷南1-2-3,"
    "03-3333-4444,yumi@example.jp,,\n"
    "A1,小林 誠,コバヤシ マコト,1975-03-03,,,590-0001,大阪府堺市堺区1-1,072-222-3333,makoto@example.jp,VISA,4242\n"
    "T1,山本 花子,ヤマモト ハナコ,1980-05-05,,,060-0001,北海道札幌市中央区北1条西1-1,011-111-1111,"
    "hanako1@example.jp,JCB,1111\n"
    "T2,山本 花子,ヤマモト ハナコ,1992-11-23,,,900-0001,沖縄県那覇市港町1-1,098-222-2222,hanako2@example.jp,,1111\n"
)
GIFT_CODES = 12


@dataclass
class PortalData:
    incident: object
    guardian: Notice  # 中村 由美: two children
    adult: Notice  # 小林 誠: a VISA card
    twin_a: Notice  # 山本 花子 (Hokkaido)
    twin_b: Notice  # 山本 花子 (Okinawa): the same person twice, or a namesake

    def people(self, notice: Notice) -> list[int]:
        return [int(person["number"]) for person in notice.content["people"]]


def sign_in(client: Client, notice: Notice) -> None:
    response = client.post("/signin", {"code": codes.group(notice.code), "key": codes.login_key(notice.code)})
    assert response.status_code == 302 and response["Location"] == "/me", response.content[:300]


@pytest.fixture
def portal_data(incident, tmp_path: Path) -> PortalData:
    path = tmp_path / "leak.csv"
    path.write_text(HEADER + ROWS, encoding="utf-8")
    import_file(incident=incident, path=path, source="members", actor="t")
    resolve(incident=incident, actor="t", as_of=AS_OF)
    data = notice_setup.load(EXAMPLE)
    notice_setup.apply(incident=incident, data=data, actor="t")
    redress.set_catalog(incident=incident, options=data["redress"]["options"], actor="t")
    pool = tmp_path / "codes.csv"
    pool.write_text(
        "code,gift_id,management_number\n"
        + "".join(f"GIFT-{n:04d}-SECRET,G{n:05d},M{n:07d}\n" for n in range(GIFT_CODES)),
        encoding="utf-8",
    )
    redress.import_codes(incident=incident, option_key="emoney", path=pool, actor="t")
    prepare(incident=incident, actor="t")
    by_name = {n.content["to"]["name"]: n for n in Notice.objects.filter(incident=incident)}
    twins = [n for n in Notice.objects.filter(incident=incident) if n.content["to"]["name"] == "山本 花子"]
    twins.sort(key=lambda n: n.content["to"]["email"])
    assert len(twins) == 2, "the namesakes must stay two recipients for these tests"
    return PortalData(incident, by_name["中村 由美"], by_name["小林 誠"], twins[0], twins[1])
