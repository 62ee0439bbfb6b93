"""Render sample notices to PNG in docs/, for people to look at: a letter with a card, one without, a large
household's letter, and a notice e-mail's HTML (with Debian's chromium, when installed).

    .venv/bin/python bench/notice_samples.py [--out docs]

A small made-up incident in a throw-away SQLite database: import, resolve, notice setup (the demo's),
prepare, print; then each wanted letter's pages are rendered at 100 dpi with pypdfium2.
"""

from __future__ import annotations

import argparse
import csv
import os
import shutil
import subprocess
import sys
import tempfile
from datetime import date
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

HEADER = (
    "record_id,source,subject_name,subject_kana,subject_birth_date,guardian_name,guardian_kana,"
    "postal_code,address,phone,email,card_brand,card_last4\n"
)
ROWS = [
    # A mother whose own data leaked too, and her three children; her card is on each child's record,
    # spelt three ways, once without a brand. Her own records spell her name 髙木 and 高木.
    "Z1,zemi,髙木 由美,タカギ ユミ,1982-04-02,,,166-0004,東京都杉並区阿佐谷南1-2-3 サンハイツ阿佐ヶ谷101号室,"
    "03-3333-4444,yumi@example.jp,VISA,4242",
    "Z2,shop,高木 由美,タカギ ユミ,1982-04-02,,,166-0004,東京都杉並区阿佐谷南1-2-3 サンハイツ阿佐ヶ谷101号室,"
    "03-3333-4444,,,",
    "K1,kodomo,髙木 結衣,タカギ ユイ,2015-07-07,髙木 由美,タカギ ユミ,166-0004,"
    "東京都杉並区阿佐谷南1-2-3 サンハイツ阿佐ヶ谷101号室,03-3333-4444,,Visa,4242",
    "K2,kodomo,髙木 蓮,タカギ レン,2017-01-09,髙木 由美,タカギ ユミ,166-0004,"
    "東京都杉並区阿佐谷南1-2-3 サンハイツ阿佐ヶ谷101号室,03-3333-4444,,ビザ,4242",
    "K3,zemi,髙木 陽菜,タカギ ヒナ,2019-03-03,髙木 由美,タカギ ユミ,166-0004,"
    "東京都杉並区阿佐谷南1-2-3 サンハイツ阿佐ヶ谷101号室,03-3333-4444,,,4242",
    # An adult alone, no card.
    "E1,event,佐々木 健一,ササキ ケンイチ,1948-11-20,,,060-0001,北海道札幌市中央区北一条西二丁目1番地 "
    "札幌グランドマンション1203,011-222-3333,,,",
    # A large household: a guardian (not a subject) with twelve children.
] + [
    f"C{i},club,山田 子{i:02d},ヤマダ コ{i:02d},20{8 + i:02d}-0{1 + i % 9}-1{i % 9},山田 花子,ヤマダ ハナコ,"
    "100-0001,東京都千代田区千代田1-1,03-1111-2222,,,"
    for i in range(12)
]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--out", default=str(REPO / "docs"))
    options = parser.parse_args()
    out = Path(options.out)
    out.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="owabi-samples-"))
    os.environ.update(
        OWABI_DATA_DIR=str(work),
        DJANGO_SETTINGS_MODULE="config.settings",
        DATABASE_URL=f"sqlite:///{work / 'samples.sqlite3'}",
    )
    import django

    django.setup()
    import pypdfium2
    from django.core.management import call_command

    from owabi.incidents.services import create_incident
    from owabi.notices import letters, setup
    from owabi.notices.models import Notice, NoticeSetup
    from owabi.notices.render import render
    from owabi.notices.services import prepare
    from owabi.records.resolve import resolve
    from owabi.records.services import import_file

    call_command("migrate", verbosity=0)
    incident = create_incident(
        actor="samples",
        slug="samples",
        name="samples",
        discovered_on=date(2026, 11, 1),
        occurred_from=date(2026, 9, 1),
        occurred_to=date(2026, 10, 20),
        declared_categories=["card_security_code"],
    )
    leak = work / "leak.csv"
    leak.write_text(HEADER + "\n".join(ROWS) + "\n", encoding="utf-8")
    import_file(incident=incident, path=leak, source="demo", actor="samples")
    resolve(incident=incident, actor="samples", as_of=date(2026, 12, 1))
    data = setup.load(REPO / "docs" / "notice-setup.demo.toml")
    setup.apply(incident=incident, data={**data, "policy": "both"}, actor="samples")
    prepare(incident=incident, actor="samples")
    printed = letters.print_letters(incident=incident, out=work / "letters", actor="samples", batch=100)
    document = pypdfium2.PdfDocument(str(printed.files[0]))
    assert printed.manifest is not None
    with printed.manifest.open(encoding="utf-8") as handle:
        placed = {row["reference"]: row for row in csv.DictReader(handle)}
    wanted = {"高木 由美": "letter-card", "佐々木 健一": "letter-plain", "山田 花子": "letter-household"}
    for notice in Notice.objects.filter(channel="letter").order_by("pk"):
        name = wanted.get(notice.content["to"]["name"])
        print(
            notice.content["to"]["name"],
            notice.content["to"]["kind"],
            [(p["name"], p["self"]) for p in notice.content["people"]],
            notice.content["cards"],
        )
        row = placed[letters.reference(notice)]
        for index in range(int(row["pages"]) if name else 0):
            target = out / f"{name}-p{index + 1}.png"
            document[int(row["first_page"]) - 1 + index].render(scale=100 / 72).to_pil().save(target)
            print(target)
    email = Notice.objects.filter(channel="email").order_by("pk").first()
    the_setup = NoticeSetup.objects.get(incident=incident)
    html = work / "email.html"
    assert email is not None
    html.write_text(render(email, the_setup).html, encoding="utf-8")
    chromium = shutil.which("chromium")
    if chromium:
        target = out / "email-sample.png"
        subprocess.run(
            [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
             f"--screenshot={target}", "--window-size=800,2600", html.as_uri()],
            check=True, capture_output=True, timeout=120,
        )  # fmt: skip
        print(target)
    shutil.rmtree(work)


if __name__ == "__main__":
    main()
