"""The public announcement (公表): versions kept, the personal-data check before keeping and publishing,
the portal's public page, and who may edit and publish it."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.core.exceptions import ValidationError
from django.test import Client

from owabi.core.models import AuditEvent
from owabi.records.services import import_file
from owabi.reports import personal_data, selectors, services
from owabi.reports.models import AnnouncementVersion
from tests.portal_support import PortalData, sign_in
from tests.test_backoffice import _staff

pytestmark = pytest.mark.django_db

CLEAN = (
    "2026年11月20日、当社の会員システムから、お客様の氏名・住所・電話番号・メールアドレス・"
    "クレジットカード番号の下4桁が外部に流出したことが分かりました。対象のお客様には、"
    "メールまたは郵便でお知らせをお送りしています。\n"
    "お問い合わせ: 0120-000-111（9時〜18時）\n当社所在地: 東京都千代田区丸の内9-9-9\n"
    "対象となった方は1,234名です。"
)
POSTS = ["/staff/report/announcement/save", "/staff/report/announcement/publish"]


def _save(incident: object, body: str = CLEAN, **extra: str) -> AnnouncementVersion:
    return services.save_announcement(
        incident=incident,  # type: ignore[arg-type]
        actor="staff:1",
        title=extra.pop("title", "個人情報の流出に関するお詫び"),
        body=body,
        **extra,
    )


def test_each_saved_version_is_kept_with_who_and_when(portal_data: PortalData) -> None:
    incident = portal_data.incident
    first = _save(incident)
    second = _save(incident, CLEAN + "\n追記: 専用窓口を開設しました。")
    assert [v.number for v in selectors.announcements(incident)] == [2, 1]  # type: ignore[arg-type]
    assert first.body == CLEAN and second.body.endswith("開設しました。")
    assert second.saved_by == "staff:1" and second.saved_at is not None
    assert selectors.published_announcement(incident) is None  # type: ignore[arg-type]
    assert selectors.draft(incident, "final").texts["publication"] == "（記入してください）"  # type: ignore[arg-type]
    services.publish_announcement(incident=incident, actor="staff:2", number=1)  # type: ignore[arg-type]
    publication = selectors.draft(incident, "final").texts["publication"]  # type: ignore[arg-type]
    assert (
        "お知らせのページに公表文「個人情報の流出に関するお詫び」を掲載した" in publication
    )  # item 7 starts from it
    shown = selectors.published_announcement(incident)  # type: ignore[arg-type]
    assert shown is not None and shown.number == 1 and shown.published_by == "staff:2"
    services.publish_announcement(incident=incident, actor="staff:2", number=2)  # type: ignore[arg-type]
    assert selectors.published_announcement(incident).number == 2  # type: ignore[arg-type, union-attr]
    assert AnnouncementVersion.objects.get(number=1).body == CLEAN  # kept as it was
    actions = list(
        AuditEvent.objects.filter(action__contains="announcement").values_list("action", flat=True)
    )
    assert (
        actions.count("reports.save_announcement") == 2 and actions.count("reports.publish_announcement") == 2
    )
    with pytest.raises(ValidationError):
        services.publish_announcement(incident=incident, actor="staff:2", number=9)  # type: ignore[arg-type]
    with pytest.raises(ValidationError):
        _save(incident, "")
    with pytest.raises(ValidationError):
        _save(incident, title=" ")


REFUSED = [
    ("お客様の小林誠様には個別にご連絡します。", "氏名"),  # the record has 小林 誠
    ("中村 由美 様（保護者）", "氏名"),  # a guardian's name
    ("ご本人（コバヤシ マコト）", "氏名の読み（フリガナ）"),
    ("ご本人（こばやしまこと）", "氏名の読み（フリガナ）"),  # written in hiragana
    ("連絡先 072-222-3333 の方", "電話番号"),
    ("連絡先（０７２）２２２－３３３３", "電話番号"),  # full width, another layout
    ("連絡先 +81 72 222 3333", "電話番号"),
    ("問い合わせ先 Makoto@Example.JP", "メールアドレス"),
    ("送付先 makoto@example.jp。", "メールアドレス"),
    ("大阪府堺市堺区1丁目1番 のお客様", "住所"),
    ("住所は杉並区阿佐谷南1-2-3です", "住所"),
    ("カード番号下4桁 4242 のお客様", "カード番号の下4桁"),
    ("末尾が＊＊＊＊4242のカード", "カード番号の下4桁"),
]


def test_the_check_refuses_a_value_from_the_records(portal_data: PortalData) -> None:
    incident = portal_data.incident
    for text, kind in REFUSED:
        found = personal_data.find(incident=incident, texts=[CLEAN, text])  # type: ignore[arg-type]
        assert found.labels == [kind], text
        with pytest.raises(ValidationError) as refused:
            _save(incident, CLEAN + "\n" + text)
        message = " ".join(refused.value.messages)
        assert kind in message, text
        for value in ("小林", "072", "222", "makoto", "4242", "阿佐谷", "堺"):
            assert value not in message  # the kind, never the value
    assert AnnouncementVersion.objects.count() == 0


def test_the_check_passes_clean_text(portal_data: PortalData) -> None:
    incident = portal_data.incident
    ordinary = (
        "小林市のお客様、山本氏、中村さん、誠実に対応します。カードの有効期限は2030年です。"
        "お問い合わせは support@owabi.example まで。件数 4242 件。"
    )
    assert not personal_data.find(incident=incident, texts=[CLEAN, ordinary])  # type: ignore[arg-type]
    assert _save(incident, CLEAN + ordinary).number == 1


def test_publishing_checks_again_against_records_imported_since(
    portal_data: PortalData, tmp_path: Path
) -> None:
    incident = portal_data.incident
    version = _save(incident, CLEAN + "\n佐藤 健一 様の件は別途ご案内します。")
    path = tmp_path / "more.csv"
    path.write_text("record_id,subject_name,phone\nL1,佐藤 健一,090-1111-2222\n", encoding="utf-8")
    import_file(incident=incident, path=path, source="late", actor="t")  # type: ignore[arg-type]
    with pytest.raises(ValidationError) as refused:
        services.publish_announcement(incident=incident, actor="s", number=version.number)  # type: ignore[arg-type]
    assert "氏名" in " ".join(refused.value.messages) and "佐藤" not in " ".join(refused.value.messages)
    assert selectors.published_announcement(incident) is None  # type: ignore[arg-type]


def test_the_portal_shows_the_published_version_to_anyone(portal_data: PortalData) -> None:
    incident = portal_data.incident
    anonymous = Client()
    before = anonymous.get("/announcement")
    assert before.status_code == 200 and "個人情報の流出に関するお詫びとお知らせ" in before.content.decode()
    assert "/announcement" in anonymous.get("/").content.decode()  # linked from the start page
    _save(incident, "第1版の本文です。", title="第1版の見出し")
    assert "第1版の本文です。" not in anonymous.get("/announcement").content.decode()  # saved, not published
    services.publish_announcement(incident=incident, actor="s", number=1)  # type: ignore[arg-type]
    _save(incident, "第2版の本文です。", title="第2版の見出し", body_en="Second version in English.")
    page = anonymous.get("/announcement").content.decode()
    assert "第1版の見出し" in page and "第1版の本文です。" in page and "第2版" not in page
    services.publish_announcement(incident=incident, actor="s", number=2)  # type: ignore[arg-type]
    page = anonymous.get("/announcement").content.decode()
    assert "第2版の見出し" in page and "第2版の本文です。" in page and "第1版" not in page
    anonymous.get("/language/en")
    assert "Second version in English." in anonymous.get("/announcement").content.decode()
    person = Client()
    sign_in(person, portal_data.adult)
    assert "第2版の本文です。" in person.get("/announcement").content.decode()


def test_a_manager_edits_and_publishes_on_the_report_page(portal_data: PortalData) -> None:
    manager, _ = _staff("manager1", "manager")
    slug = portal_data.incident.slug  # type: ignore[attr-defined]
    page = manager.get(f"/staff/report?incident={slug}").content.decode()
    assert "公表文" in page and "まだ公開していません" in page
    saved = manager.post(POSTS[0], {"incident": slug, "title": "お詫び", "body": CLEAN})
    assert saved.status_code == 302 and saved["Location"].endswith("saved=announcement#announcement")
    refused = manager.post(POSTS[0], {"incident": slug, "title": "お詫び", "body": CLEAN + "小林 誠様"})
    text = refused.content.decode()
    assert refused.status_code == 400 and "氏名" in text and AnnouncementVersion.objects.count() == 1
    published = manager.post(POSTS[1], {"incident": slug, "number": "1"})
    assert published.status_code == 302 and published["Location"].endswith("saved=published#announcement")
    page = manager.get(published["Location"]).content.decode()
    assert "公開中：第1版" in page and "公表文を公開しました" in page
    assert manager.post(POSTS[1], {"incident": slug, "number": "x"}).status_code == 404
    assert manager.post(POSTS[1], {"incident": slug, "number": "7"}).status_code == 400
    assert manager.get(POSTS[1]).status_code == 405


def test_only_managers_and_admins_edit_or_publish(portal_data: PortalData) -> None:
    incident = portal_data.incident
    _save(incident)
    slug = incident.slug  # type: ignore[attr-defined]
    for role in ("agent", "reviewer", "finance"):
        client, _ = _staff(f"{role}1", role)
        assert client.post(POSTS[0], {"incident": slug, "title": "t", "body": "b"}).status_code == 403
        assert client.post(POSTS[1], {"incident": slug, "number": "1"}).status_code == 403
    person = Client()
    sign_in(person, portal_data.adult)
    for client in (Client(), person):  # anonymous, and a person signed in to the portal
        assert client.get("/staff/report")["Location"] == "/staff/login"
        for path in POSTS:
            assert client.post(path, {"incident": slug, "number": "1"})["Location"] == "/staff/login"
    assert AnnouncementVersion.objects.count() == 1
    assert selectors.published_announcement(incident) is None  # type: ignore[arg-type]
    admin, _ = _staff("admin1", "admin")
    assert admin.post(POSTS[1], {"incident": slug, "number": "1"}).status_code == 302
