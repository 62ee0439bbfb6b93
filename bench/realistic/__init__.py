"""A second, independent generator of leaked customer exports, modelled on how real Japanese data goes wrong.

    PYTHONPATH=$PWD .venv/bin/python -m bench.realistic --records N --seed S --out FILE.csv

writes FILE.csv in owabi's standard columns (DESIGN.md §4.1, the header `owabi synth` writes) and
FILE.truth.csv (record_id, person_id, recipient_id, variation). Same seed and arguments, same bytes.
It was written without reading owabi's resolution model or its first generator (owabi/demo/synth.py):
only the product's definitions (DESIGN §4.2), the column names and the raw name/postcode tables.

Seeds
-----
- Tuning seeds: 1 (and any other small seed). Measure, look at errors, change the model on these.
- HELD-ASIDE seed: 2026. Never tune on this. It is run once, for the figures an issue's targets are
  checked against; looking at its errors to fix them turns it into a tuning seed.

The company behind the export
-----------------------------
A consumer company with members (web, app), a call centre, paper forms at shops, and a legacy core system
migrated in 2012, selling to adults and to parents for their children (so children, guardians and
maternity sign-ups appear, as in the Benesse leak of 2014). One row is one registration of one person
in one system; a person registered in several services has several rows, in each system's format.

The world (world.py) — rates per unit, household or person
- Households: 30 % single adults, 20 % couples, 50 % families with children (a child-products company).
  40 % live in flats (census 2020: ~43 % of households), 45 % have a landline, 6 % of those a fax.
- Rows per person: adults 1 (60 %), 2 (24 %), 3 (10 %), 4 (4 %), 5–8 (2 %); children more (45/27/15/8/5 %),
  since parents sign children up for several services. Rows lean to recent years (exponential, mean 9
  years back from 2026), never before 2000.
- A spouse's own data leaked with probability 0.8; in a family the registering parent (the mother in
  85 % of families) has own rows in 60 %, the other parent in 40 %. A guardian without rows is still
  the children's recipient (DESIGN §4.2).
- Children: 1–4 (35/45/17/3 %), born 500–2000 days apart; twins in 2.5 % of births (same birth date
  and contacts, different given names); a son shares his father's reading (博/浩 ヒロシ) in 4 % of first
  sons; a grandparent with own rows in 5 % of families.
- Pre-birth sign-ups: 12 % of children born since 2003 have a first row made 1–8 months before birth,
  with a placeholder name (（未定）, ベビー, 赤ちゃん, 第二子, 〇〇ちゃん, 佐藤 ベビー or empty), the
  guardian's name and contacts and the due date (real birth ± ~8 days); 15 % of these put the due date
  in the birth date column. Twins have none (one sign-up for two children is neither's). 1.2 % of
  families are expecting now: that child exists only as such rows.
- Moves: 15 % of households moved once (2006–2025): older rows carry the old address and landline;
  mobile numbers and e-mail addresses move with the person.
- Marriage: 35 % of wives (15 % of single women before 1995) changed surname; their rows from before carry
  the maiden surname and their parents' address, with the same given name, birth date and mobile.
- E-mail: 92 % of adults born since 1960 have one (55 % before); 35 % of carrier addresses (docomo, au,
  softbank) were replaced on a carrier change (MNP keeps the number); 15 % of couples share one family
  address; 4 % share a family card.
- Not the same person although alike: 1.2 % of units add a namesake elsewhere (same written name,
  reading and birth date, top-30 surname), a rate that stands for what 35 million rows produce by chance;
  1.2 % add a neighbour household (same building, another room; or the next house number).

The rows (render.py) — rates per row of a source; sources by year: web (2005–, weight 45), app (2016–,
20), call centre (20), legacy core system (–2012, 60), paper forms keyed by hand (10).
- Web forms: surname/given separated by a space 45 %, a full-width space 30 %, nothing 25 %; reading in
  hiragana 17 %, missing 5 %, a kana typo 1.5 %; a rare 異体字 (髙, 﨑, 齋, 邊) lost to the IME 25 %;
  name typed in kana only 2 %; dates from pickers (off by one day 0.8 %, month 0.4 %); postal code
  with hyphen 60 %, without 25 %, with 〒 10 %, full-width 5 %; addresses 1-2-3 60 %, 丁目番地号 20 %,
  mixed 12 %, 一丁目 8 %, prefecture left out 8 %, full-width digits 12 %, odd dashes (ー, －) 6 %;
  building name kept 75 %, room only 15 %, left out 10 %; phone with hyphens 55 %, +81 2 %, full-width
  3 %; e-mail typo 1.5 % (gmail.con, yahoo.co.jo, swapped letters), capitalised first letter 2 %.
- Call centre: kanji chosen from the sound (surname homophone 6 %: 伊藤/伊東, 斎藤/斉藤; given name
  homophone 8 %: 博/浩), kana typos 5 % (voiced marks サクライ/サグライ, small kana, long vowels
  ユウコ/ユーコ, dropped kana), era dates (平成20年4月1日, H20.4.1) 60 %, birth date digit slip 1.5 %,
  day/month swap 0.8 %, wrong era conversion 1.5 % (a year off, or 令和2 keyed as 平成2), phone
  transposition 2 %, digit slip 1.5 %, e-mail present 30 % with a typo 6 % (b/v, l/r, m/n heard wrong).
- Legacy core system (rows keyed before 2012, migrated): half-width katakana 70 %, small kana made
  large (bank kana) 40 %, kana truncated at 14 half-width characters, names truncated at 10, names stored
  in kana only 6 %, characters outside JIS X 0208 (髙, 﨑, 𠮷) as 〓 or the common form, dates 19850401
  or S60.4.1, placeholders (不明, 19000101) 1.5 %, dummy phones (000-0000-0000, なし) 2 %, phone shifted
  into the FAX column 0.4 %, name and reading columns swapped 0.3 %, e-mail held 20 %.
- Paper forms keyed by hand: handwriting misreads of digits (1/7, 0/6, 3/8) in phones 3 % and birth
  dates 2.5 %, of kana (シ/ツ, ソ/ン) 4 %, of kanji (未/末, 土/士) 2 %.
- Every row: 3–10 % of each field empty depending on the source; relationship 本人/子/長男… or empty.

Every row is valid for import (it names someone or a contact): `owabi import` rejects none. Values
that are unusable on purpose (不明, 000-0000-0000, 〓 names) are kept by import with a warning.

Truth: person_id is the real person (a pre-birth row belongs to the child born later); recipient_id
is the person for an adult on the notice date (`--as-of`, default 2026-12-01) and the registering
guardian for a minor (under 18), whether or not the guardian's own data leaked. `variation` holds the
row's tags separated by spaces: `src:<source>`, `by_guardian`/`own_row`, `role:minor`/`role:adult`,
each change made to the row (kana_typo_voiced, dob_day_month_swap, guardian_name_nospace …) and the
person's hard cases (`case:twin`, `case:sibling`, `case:same_reading_parent`, `case:prebirth`,
`case:unborn`, `case:moved`, `case:marriage`, `case:namesake`, `case:neighbour`, `case:shared_email`,
`case:spouse`, `case:grandparent`, `case:child`, `case:grown_child`: signed up as a child, now an
adult).
"""

from __future__ import annotations

import csv
import random
import sys
from collections.abc import Iterator
from datetime import date
from pathlib import Path

from bench.realistic.render import Renderer, Row
from bench.realistic.world import World
from owabi.records.columns import STANDARD

TUNING_SEEDS = (1, 7)
HELD_ASIDE_SEED = 2026  # never tune on this
AS_OF = date(2026, 12, 1)

COLUMNS = STANDARD  # DESIGN §4.1, the header `owabi synth` writes
ID_PREFIX = {"web": "W", "app": "A", "cc": "C", "legacy": "L", "paper": "P"}
SHUFFLE_WINDOW = 20_000  # rows of one household land far apart, as in a real export; memory stays bounded


def default_truth_path(out: Path) -> Path:
    return out.with_name(out.stem + ".truth.csv")


Item = tuple[Row, int, int, list[str]]


def _rows(rng: random.Random, as_of: date) -> Iterator[tuple[Item, bool, bool]]:
    """Rows forever: (row, person id, recipient id, the person's tags), and whether the row is the first
    of its person and of its recipient. A guardian is always in the same unit as the children, so
    recipients are counted per unit: the totals need no set that grows with the file."""
    world, renderer = World(rng, as_of), Renderer(rng, as_of)
    while True:
        seen: set[int] = set()
        for person in world.unit():
            minor = person.is_minor(as_of)
            tags = ["role:minor" if minor else "role:adult", *person.cases]
            if person.guardian is not None and not minor:
                tags.append("case:grown_child")  # signed up as a child, an adult now: their own recipient
            recipient = person.recipient(as_of)
            for number, row in enumerate(renderer.rows(person)):
                yield (row, person.pid, recipient, tags), number == 0, recipient not in seen
                seen.add(recipient)


def generate(
    *,
    records: int,
    seed: int,
    out: Path,
    truth: Path | None = None,
    as_of: date = AS_OF,
    progress: bool = False,
) -> dict[str, int]:
    """Write `records` rows to `out` and their truth beside it; returns counts for a summary line."""
    rng = random.Random(seed)
    truth = truth or default_truth_path(out)
    window: list[Item] = []
    counters = dict.fromkeys(ID_PREFIX, 0)
    people = recipients = 0
    written = 0
    with (
        out.open("w", encoding="utf-8", newline="") as data_handle,
        truth.open("w", encoding="utf-8", newline="") as truth_handle,
    ):
        data, facts = (
            csv.writer(data_handle, lineterminator="\n"),
            csv.writer(truth_handle, lineterminator="\n"),
        )
        data.writerow(COLUMNS)
        facts.writerow(("record_id", "person_id", "recipient_id", "variation"))

        def emit(item: Item) -> None:
            nonlocal written
            row, person, recipient, cases = item
            source = row.tags[0].removeprefix("src:")
            counters[source] += 1
            record_id = f"{ID_PREFIX[source]}{counters[source]:08d}"
            data.writerow([record_id, *(row.values.get(column, "") for column in COLUMNS[1:])])
            facts.writerow((record_id, f"P{person:08d}", f"P{recipient:08d}", " ".join([*row.tags, *cases])))
            written += 1
            if progress and written % 100_000 == 0:
                print(f"  {written:,} / {records:,} rows", file=sys.stderr, flush=True)

        source = _rows(rng, as_of)
        made = 0
        while made < records:
            item, new_person, new_recipient = next(source)
            made += 1
            people += new_person
            recipients += new_recipient
            if len(window) < SHUFFLE_WINDOW:
                window.append(item)
                continue
            i = rng.randrange(len(window))
            window[i], item = item, window[i]
            emit(item)
        rng.shuffle(window)
        for item in window:
            emit(item)
    return {"records": written, "persons": people, "recipients": recipients}
