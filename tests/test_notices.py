"""Notices: one per recipient per channel, saying exactly what of theirs leaked, prepared once."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from owabi.core import audit
from owabi.notices import codes, letters, services, setup
from owabi.notices.models import Notice, NoticeSetup
from owabi.notices.render import render
from owabi.notices.services import NoticeSetupMissing, prepare
from owabi.records.resolve import resolve
from owabi.records.services import import_file
from tests.conftest import REPO

pytestmark = pytest.mark.django_db
AS_OF = date(2026, 12, 1)
HEADER = (
    "record_id,subject_name,subject_kana,subject_birth_date,guardian_name,guardian_kana,postal_code,"
    "address,phone,email,card_brand,card_last4\n"
)
KIDS = (
    "K1,中村 結衣,ナカムラ ユイ,2015-07-07,中村 由美,ナカムラ ユミ,166-0004,東京都杉並区阿佐谷南1-2-3,"
    "03-3333-4444,yumi@example.jp,,\n"
)
SHOP = (
    "S1,中村 蓮,ナカムラ レン,2017-01-09,中村 由美,ナカムラ ユミ,166-0004,東京都杉並区阿佐谷南1-2-3,"
    "03-3333-4444,yumi@example.jp,,\n"
    "S2,小林 誠,コバヤシ マコト,1975-03-03,,,590-0001,大阪府堺市堺区1-1,072-222-3333,,VISA,4242\n"
    "S3,佐藤 花子,サトウ ハナコ,1980-05-05,,,,,,,,\n"
)
EXAMPLE = REPO / "docs" / "notice-setup.example.toml"
# The internal labels these tests import under, and the names readers know them by.
SOURCES = {
    "ja": {"kids_club": "こどもクラブ", "web_shop": "通販サイト"},
    "en": {"kids_club": "Kids Club", "web_shop": "Online shop"},
}


def setup_data(**changes) -> dict:
    """The example setup with names for this file's source labels."""
    return {**setup.load(EXAMPLE), "sources": SOURCES, **changes}


def _import(incident, tmp_path: Path, name: str, source: str, rows: str) -> None:
    path = tmp_path / name
    path.write_text(HEADER + rows, encoding="utf-8")
    import_file(incident=incident, path=path, source=source, actor="t")


@pytest.fixture
def resolved(incident, tmp_path: Path):
    _import(incident, tmp_path, "kids.csv", "kids_club", KIDS)
    _import(incident, tmp_path, "shop.csv", "web_shop", SHOP)
    resolve(incident=incident, actor="t", as_of=AS_OF)
    setup.apply(incident=incident, data=setup_data(), actor="t")
    return incident


def _by_name(incident) -> dict[str, Notice]:
    return {n.content["to"]["name"]: n for n in Notice.objects.filter(incident=incident)}


def test_each_notice_says_what_of_its_recipient_leaked_and_nothing_of_anyone_else(resolved) -> None:
    result = prepare(incident=resolved, actor="t")
    assert result.created == {"email": 1, "letter": 1}
    assert result.unreachable == 1  # 佐藤: no e-mail, no address
    notices = _by_name(resolved)
    assert set(notices) == {"中村 由美", "小林 誠"}
    the_setup = NoticeSetup.objects.get(incident=resolved)

    guardian = notices["中村 由美"]
    assert guardian.channel == "email" and guardian.status == "prepared"
    mail = render(guardian, the_setup)
    assert "個人情報" in mail.subject and "株式会社サンプル旅行" in mail.subject
    for text in (mail.text, mail.html):
        assert "中村 由美 様" in text
        assert "中村 結衣 様" in text and "中村 蓮 様" in text  # one notice covers both children
        assert "こどもクラブ" in text and "通販サイト" in text
        assert "kids_club" not in text and "web_shop" not in text and ".csv" not in text
        assert "生年月日" in text and "メールアドレス" in text
        assert codes.group(guardian.code) in text and codes.login_key(guardian.code) in text
        assert "小林" not in text and "4242" not in text and "佐藤" not in text
        assert "決してありません" in text
    assert "<a " not in mail.html  # no link to click in a notice e-mail (phishing look-alikes)

    adult = notices["小林 誠"]
    assert adult.channel == "letter"
    letter = letters.letter_text(adult, the_setup)
    assert "小林 誠 様" in letter and "VISA 下4桁 4242" in letter
    assert "手数料は当社が負担します" in letter and "【クレジットカード】" in letter
    assert "2027年3月31日" in letter  # the redress deadline
    assert codes.login_key(adult.code) in letter and codes.login_key(guardian.code) not in letter
    assert "中村" not in letter

    english = render(Notice(**{**_fields(adult), "language": "en"}), the_setup)
    english_letter = letters.letter_text(Notice(**{**_fields(adult), "language": "en"}), the_setup)
    assert "Visa ending in 4242" in english_letter and "Credit card" in english.text
    assert "Online shop" in english_letter and "web_shop" not in english_letter


def _fields(notice: Notice) -> dict:
    return {f.name: getattr(notice, f.name) for f in Notice._meta.concrete_fields if f.name != "id"}


def test_prepare_twice_creates_nothing_twice_and_a_later_recipient_gets_a_new_notice(
    resolved, tmp_path: Path
) -> None:
    prepare(incident=resolved, actor="t")
    before = dict(Notice.objects.values_list("pk", "code"))
    again = prepare(incident=resolved, actor="t")
    assert again.created == {"email": 0, "letter": 0} and again.existing == 2
    _import(
        resolved,
        tmp_path,
        "late.csv",
        "web_shop",
        "L1,山本 健,ヤマモト ケン,1990-01-01,,,,,,ken@example.jp,,\n",
    )
    resolve(incident=resolved, actor="t", as_of=AS_OF)
    later = prepare(incident=resolved, actor="t")
    assert later.created == {"email": 1, "letter": 0}
    assert {pk: code for pk, code in Notice.objects.values_list("pk", "code") if pk in before} == before
    assert audit.recent(limit=1)[0].action == "notices.prepare"


def test_policy_both_adds_letters_and_a_template_can_be_overridden(resolved) -> None:
    prepare(incident=resolved, actor="t")
    data = setup_data(
        policy="both",
        templates={"ja/email_subject.txt": "お詫び（{{ setup.sender_name }}）{{ people|length }}名"},
    )
    changed = setup.apply(incident=resolved, data=data, actor="t")
    assert changed.revision == 2
    result = prepare(incident=resolved, actor="t")
    assert result.created == {"email": 0, "letter": 1}  # the guardian's letter; 小林 has no e-mail
    guardian = Notice.objects.get(channel="email")
    assert render(guardian, changed).subject == "お詫び（株式会社サンプル旅行）2名"
    letter = Notice.objects.get(channel="letter", recipient=guardian.recipient)
    assert letter.setup_revision == 2 and letter.code != guardian.code


def test_prepare_needs_a_setup(incident) -> None:
    with pytest.raises(NoticeSetupMissing, match="owabi notices setup"):
        prepare(incident=incident, actor="t")


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"phone": ""}, "missing phone"),
        ({"texts": {"en": {}}}, r"\[texts.ja\] is required"),
        (
            {"texts": {"ja": {"summary": "x"}}},
            r"\[texts.ja\] missing cause, measures, redress, representative",
        ),
        (
            {"texts": {"ja": {**setup.load(EXAMPLE)["texts"]["ja"], "risk": "カードが不正に使われるおそれ"}}},
            r"\[texts.ja\] risk: risk and advice are now per data category .*common_risk",
        ),
        (
            {"texts": {"ja": {**setup.load(EXAMPLE)["texts"]["ja"], "actions": "x"}}},
            r"\[texts.ja\] actions: .*common_advice",
        ),
        ({"advice": {"ja": {"cards": {"risk": "x"}}}}, r"\[advice.ja.cards\]: unknown group; one of card, "),
        (
            {"advice": {"ja": {"card": {"warning": "x"}}}},
            r"\[advice.ja.card\]: the keys are title, risk, advice",
        ),
        ({"sources": {"ja": {"web_shop": ""}}}, r"\[sources.ja\] 'web_shop': give the name readers know"),
        ({"templates": {"ja/evil.txt": "x"}}, "unknown template 'ja/evil.txt'"),
        ({"templates": {"ja/email.txt": "ok\n{% if %}"}}, r"'ja/email.txt': TemplateSyntaxError at line 2"),
        ({"templates": {"ja/email.txt": "{{ secret_key }}"}}, r"'ja/email.txt': UndefinedError"),
        (
            {"templates": {"en/email.html": "{{ setup.__class__.__mro__ }}"}},
            r"'en/email.html': SecurityError",
        ),
        ({"policy": "pigeon"}, "policy"),
        ({"portal_url": "not a url"}, "portal_url"),
        ({"redress_deadline": "soon"}, "redress_deadline must be a date"),
    ],
)
def test_a_bad_setup_is_refused_by_field(incident, change: dict, message: str) -> None:
    with pytest.raises(setup.SetupError, match=message):
        setup.apply(incident=incident, data={**setup.load(EXAMPLE), **change}, actor="t")
    assert not NoticeSetup.objects.exists()


def test_the_commands_set_up_prepare_and_preview_with_an_audited_reason(resolved, capsys) -> None:
    call_command("notices", "setup", "--incident", resolved.slug, "--from", str(EXAMPLE))
    assert "revision 2" in capsys.readouterr().out
    with pytest.raises(
        CommandError, match=r"2 source labels have no name .*\[sources.ja\]\): kids_club, web_shop"
    ):
        call_command("notices", "prepare", "--incident", resolved.slug)
    assert not Notice.objects.exists()  # refused before any notice was made
    setup.apply(incident=resolved, data=setup_data(), actor="t")
    call_command("notices", "prepare", "--incident", resolved.slug)
    assert "1 e-mail and 1 letter created" in capsys.readouterr().out
    notice = Notice.objects.get(channel="letter")
    typed = codes.group(notice.code).lower()
    call_command(
        "notices", "preview", "--incident", resolved.slug, "--code", typed, "--part", "letter",
        "--reason", "checking the letter layout",
    )  # fmt: skip
    assert "小林 誠 様" in capsys.readouterr().out
    event = audit.recent(limit=1)[0]
    assert (event.action, event.object_id, event.reason) == (
        "notices.preview",
        str(notice.pk),
        "checking the letter layout",
    )
    with pytest.raises(CommandError, match="typo"):
        call_command(
            "notices", "preview", "--incident", resolved.slug, "--code", notice.code[:-1] + "Z"
            if notice.code[-1] != "Z" else notice.code[:-1] + "Y", "--reason", "x",
        )  # fmt: skip
    with pytest.raises(CommandError, match="--batch must be at least 1"):
        call_command("notices", "send", "--incident", resolved.slug, "--channel", "email", "--batch", "0")


def test_incident_wide_card_items_go_only_to_card_holders_and_items_keep_the_catalog_order(resolved) -> None:
    resolved.declared_categories = ["card_security_code"]
    resolved.save()
    prepare(incident=resolved, actor="t")
    notices = _by_name(resolved)
    the_setup = NoticeSetup.objects.get(incident=resolved)
    card_holder = letters.letter_text(notices["小林 誠"], the_setup)
    guardian = render(notices["中村 由美"], the_setup).text
    assert "セキュリティコード" in card_holder and "セキュリティコード" not in guardian
    items = next(line for line in card_holder.splitlines() if "項目：" in line)
    labels = items.split("項目：", 1)[1].split("、")
    assert labels[:2] == ["氏名", "フリガナ"] and labels.index("生年月日") < labels.index("電話番号")


def test_html_parts_escape_what_they_show_and_text_parts_do_not(resolved) -> None:
    prepare(incident=resolved, actor="t")
    notice = Notice.objects.get(channel="email")
    content = notice.content
    content["to"]["name"] = "<b>由美</b> & 家族"
    content["people"][0]["name"] = "<script>x</script>"
    for language in ("ja", "en"):
        mail = render(
            Notice(**{**_fields(notice), "content": content, "language": language}), the_setup(resolved)
        )
        assert "&lt;b&gt;由美&lt;/b&gt; &amp; 家族" in mail.html and "<b>" not in mail.html
        assert "&lt;script&gt;" in mail.html and "<script>" not in mail.html
        assert "<b>由美</b> & 家族" in mail.text and "<script>x</script>" in mail.text


def the_setup(incident) -> NoticeSetup:
    return NoticeSetup.objects.get(incident=incident)


def test_prepare_works_a_window_of_recipients_at_a_time(resolved, monkeypatch) -> None:
    monkeypatch.setattr(services, "BATCH", 1)
    seen: list[tuple[int, int]] = []
    result = prepare(incident=resolved, actor="t", progress=lambda done, total: seen.append((done, total)))
    assert result.created == {"email": 1, "letter": 1} and result.unreachable == 1
    assert seen == [(1, 3), (2, 3), (3, 3)]
    again = prepare(incident=resolved, actor="t")
    assert again.created == {"email": 0, "letter": 0} and again.existing == 2


CARD_HEADER = (
    "record_id,subject_name,subject_kana,subject_birth_date,guardian_name,postal_code,address,phone,"
    "card_brand,card_last4\n"
)
HOME = "166-0004,東京都杉並区阿佐谷南1-2-3,03-3333-4444"
CARD_ROWS = (
    # A guardian's card on her three children's records, its brand spelt three ways and once not at all.
    f"K1,中村 結衣,ナカムラ ユイ,2015-07-07,中村 由美,{HOME},Visa,1111\n"
    f"K2,中村 蓮,ナカムラ レン,2017-01-09,中村 由美,{HOME},ビザ,1111\n"
    f"K3,中村 陽菜,ナカムラ ヒナ,2019-03-03,中村 由美,{HOME},,1111\n"
    # Two cards with the same last 4 (VISA and JCB), and a record of one of them without a brand.
    "S1,小林 誠,コバヤシ マコト,1975-03-03,,590-0001,大阪府堺市堺区1-1,072-222-3333,VISA,4242\n"
    "S2,小林 誠,コバヤシ マコト,1975-03-03,,590-0001,大阪府堺市堺区1-1,072-222-3333,JCB,4242\n"
    "S3,小林 誠,コバヤシ マコト,1975-03-03,,590-0001,大阪府堺市堺区1-1,072-222-3333,,4242\n"
    # A brand owabi does not know keeps the export's spelling.
    "R1,森 一郎,モリ イチロウ,1960-06-06,,100-0001,東京都千代田区千代田1-1,03-5555-6666,楽天,5555\n"
)


def test_each_card_appears_once_per_notice_with_its_brand_as_readers_know_it(
    incident, tmp_path: Path
) -> None:
    (tmp_path / "cards.csv").write_text(CARD_HEADER + CARD_ROWS, encoding="utf-8")
    import_file(incident=incident, path=tmp_path / "cards.csv", source="web_shop", actor="t")
    resolve(incident=incident, actor="t", as_of=AS_OF)
    setup.apply(incident=incident, data=setup_data(policy="letter"), actor="t")
    prepare(incident=incident, actor="t")
    the_setup = NoticeSetup.objects.get(incident=incident)
    notices = _by_name(incident)
    guardian = letters.letter_text(notices["中村 由美"], the_setup)
    holders = "中村 結衣 様、中村 蓮 様、中村 陽菜 様"
    assert guardian.count("下4桁 1111") == 1 and f"VISA 下4桁 1111（{holders}のご登録情報）" in guardian
    adult = letters.letter_text(notices["小林 誠"], the_setup)
    assert [line.strip() for line in adult.splitlines() if "下4桁" in line] == [
        "・カード 下4桁 4242",  # could be either card: not pinned to one
        "・JCB 下4桁 4242",
        "・VISA 下4桁 4242",
    ]
    # 楽天 names an issuer, not a brand: import keeps no brand for it (with a warning), so no made-up one.
    mori = letters.letter_text(notices["森 一郎"], the_setup)
    assert "・カード 下4桁 5555" in mori and "楽天" not in mori
    english = Notice(**{**_fields(notices["中村 由美"]), "language": "en"})
    assert render(english, the_setup).text.count("Visa ending in 1111 (in the records of 中村 結衣, ") == 1


def test_the_salutation_and_the_list_write_the_name_the_same_way(incident, tmp_path: Path) -> None:
    # The fullest name record writes 髙木; the fullest address record 高木 (no reading, more contact data).
    rows = (
        "T1,髙木 由美,タカギ ユミ,1982-04-02,,,,,,\n"
        "T2,高木 由美,,1982-04-02,,166-0004,東京都杉並区阿佐谷南1-2-3,03-3333-4444,,\n"
    )
    (tmp_path / "t.csv").write_text(CARD_HEADER + rows, encoding="utf-8")
    import_file(incident=incident, path=tmp_path / "t.csv", source="web_shop", actor="t")
    resolve(incident=incident, actor="t", as_of=AS_OF)
    setup.apply(incident=incident, data=setup_data(policy="letter"), actor="t")
    prepare(incident=incident, actor="t")
    [notice] = Notice.objects.filter(incident=incident)
    [person] = notice.content["people"]
    assert person["self"] and notice.content["to"]["name"] == person["name"] == "髙木 由美"
    assert notice.content["to"]["address"] == "東京都杉並区阿佐谷南1-2-3"  # the contact record's
    text = letters.letter_text(notice, NoticeSetup.objects.get(incident=incident))
    assert "高木" not in text and "あなたさまの個人情報" in text


def test_a_notice_prepared_before_this_snapshot_shape_still_renders_without_labels(resolved) -> None:
    prepare(incident=resolved, actor="t")
    notice = Notice.objects.get(channel="letter")
    old = {
        "to": notice.content["to"],
        "people": [
            {**person, "cards": [{"brand": "Visa", "last4": "4242"}], "sources": ["web_shop"]}
            for person in notice.content["people"]
        ],
    }
    for person in old["people"]:
        person.pop("self")
    the_setup = the_setup_of(resolved)
    text = letters.letter_text(Notice(**{**_fields(notice), "content": old}), the_setup)
    assert "VISA 下4桁 4242" in text and "web_shop" not in text and "対象となる方" not in text


def the_setup_of(incident) -> NoticeSetup:
    return NoticeSetup.objects.get(incident=incident)
