"""`owabi synth`: exact, deterministic, realistic output whose truth follows DESIGN.md §4.2.

The resolution benchmarks trust this data, so the checks here read the CSV the way an importer would
(NFKC, wareki dates, dash variants) and hold the truth sidecar to the recipient rules.
"""

from __future__ import annotations

import csv
import hashlib
import os
import re
import subprocess
import sys
import unicodedata
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date
from io import StringIO
from pathlib import Path
from typing import Any

import pytest
from django.core.management import CommandError, call_command

from owabi.demo import synth
from owabi.records import cards
from owabi.records.columns import STANDARD, is_security_code

REPO = Path(__file__).resolve().parent.parent
AS_OF = date(2026, 12, 1)
SAMPLE = 5000
DASH_CHARS = "-‐−ー－–"
ERA_BASE = {"M": 1867, "T": 1911, "S": 1925, "H": 1988, "R": 2018}
ERA_KANJI = {"明治": "M", "大正": "T", "昭和": "S", "平成": "H", "令和": "R"}
DATE_PATTERNS = (
    (re.compile(r"^(\d{4})-(\d{2})-(\d{2})$"), "g"),
    (re.compile(r"^(\d{4})/(\d{1,2})/(\d{1,2})$"), "g"),
    (re.compile(r"^(\d{4})(\d{2})(\d{2})$"), "g"),
    (re.compile(r"^(\d{4})年(\d{1,2})月(\d{1,2})日$"), "g"),
    (re.compile(r"^([MTSHR])(\d{1,2})\.(\d{1,2})\.(\d{1,2})$"), "w"),
    (re.compile(r"^(明治|大正|昭和|平成|令和)(元|\d{1,2})年(\d{1,2})月(\d{1,2})日$"), "k"),
)


def parse_date(text: str) -> date:
    """Every date format the generator writes (DESIGN.md §4.1); raises on anything else."""
    for pattern, kind in DATE_PATTERNS:
        m = pattern.match(text)
        if not m:
            continue
        if kind == "g":
            return date(int(m[1]), int(m[2]), int(m[3]))
        letter = m[1] if kind == "w" else ERA_KANJI[m[1]]
        year = 1 if m[2] == "元" else int(m[2])
        return date(ERA_BASE[letter] + year, int(m[3]), int(m[4]))
    raise ValueError(f"unknown date format: {text!r}")


def age_on(birth: date, day: date) -> int:
    return day.year - birth.year - ((day.month, day.day) < (birth.month, birth.day))


def norm_name(text: str) -> str:
    """Name as a resolver would compare it: NFKC, no spaces, 異体字 folded."""
    text = unicodedata.normalize("NFKC", text).replace(" ", "")
    return "".join(synth.ITAIJI_FOLD.get(ch, ch) for ch in text)


def norm_kana(text: str) -> str:
    text = unicodedata.normalize("NFKC", text).replace(" ", "")
    return "".join(chr(ord(c) + 0x60) if "ぁ" <= c <= "ゖ" else c for c in text)


def norm_postcode(text: str) -> str:
    text = unicodedata.normalize("NFKC", text).replace("〒", "").replace(" ", "")
    return "".join(c for c in text if c not in DASH_CHARS)


Row = dict[str, Any]  # the CSV columns (str) plus person_id, recipient_id and tags (list[str])


@dataclass
class Person:
    rows: list[Row] = field(default_factory=list)

    @property
    def birth(self) -> date | None:
        """Birth date from a row without a day/month typo."""
        for row in self.rows:
            if row["subject_birth_date"] and "dm_swap" not in row["tags"]:
                return parse_date(row["subject_birth_date"])
        return None

    @property
    def recipients(self) -> set[str]:
        return {row["recipient_id"] for row in self.rows}

    @property
    def tags(self) -> set[str]:
        return {t for row in self.rows for t in row["tags"]}


@dataclass
class Sample:
    header: list[str]
    truth_header: list[str]
    rows: list[Row]
    persons: dict[str, Person]
    out: Path
    truth: Path


def run_synth(tmp: Path, records: int, seed: int, name: str = "leak.csv", **extra: object) -> Path:
    out = tmp / name
    call_command("synth", records=records, seed=seed, out=str(out), **extra)
    return out


@pytest.fixture(scope="module")
def sample(tmp_path_factory: pytest.TempPathFactory) -> Sample:
    tmp = tmp_path_factory.mktemp("synth")
    out = run_synth(tmp, SAMPLE, seed=1)
    truth = out.with_suffix(".truth.csv")
    with out.open(encoding="utf-8", newline="") as f:
        reader = csv.reader(f)
        header = next(reader)
        data = list(reader)
    with truth.open(encoding="utf-8", newline="") as f:
        reader = csv.reader(f)
        truth_header = next(reader)
        truth_rows = list(reader)
    assert len(data) == len(truth_rows)
    rows: list[Row] = []
    persons: dict[str, Person] = defaultdict(Person)
    for values, (record_id, person_id, recipient_id, variation) in zip(data, truth_rows, strict=True):
        row: Row = dict(zip(header, values, strict=True))
        assert row["record_id"] == record_id
        row.update(
            person_id=person_id, recipient_id=recipient_id, tags=variation.split(";") if variation else []
        )
        rows.append(row)
        persons[person_id].rows.append(row)
    return Sample(header, truth_header, rows, dict(persons), out, truth)


def test_header_count_and_ids(sample: Sample) -> None:
    assert sample.header == list(STANDARD)
    assert sample.truth_header == ["record_id", "person_id", "recipient_id", "variation"]
    assert len(sample.rows) == SAMPLE
    ids = [row["record_id"] for row in sample.rows]
    assert len(set(ids)) == SAMPLE
    assert {row["source"] for row in sample.rows} == {system for s in synth.SOURCES for system in s.systems}
    assert not any(is_security_code(h) for h in sample.header)


def test_exact_count_for_odd_sizes(tmp_path: Path) -> None:
    for n in (0, 1, 7, 333):
        out = run_synth(tmp_path, n, seed=3, name=f"n{n}.csv")
        with out.open(encoding="utf-8") as f:
            assert sum(1 for _ in csv.reader(f)) == n + 1
        with out.with_suffix(".truth.csv").open(encoding="utf-8") as f:
            assert sum(1 for _ in csv.reader(f)) == n + 1


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_deterministic_per_seed(tmp_path: Path) -> None:
    a = run_synth(tmp_path, 2000, seed=42, name="a.csv")
    b = run_synth(tmp_path, 2000, seed=42, name="b.csv")
    c = run_synth(tmp_path, 2000, seed=43, name="c.csv")
    assert digest(a) == digest(b)
    assert digest(a.with_suffix(".truth.csv")) == digest(b.with_suffix(".truth.csv"))
    assert digest(a) != digest(c)


def test_independent_of_hash_seed(tmp_path: Path) -> None:
    """Byte-identical across interpreter runs with different PYTHONHASHSEED."""
    code = (
        "import sys; from pathlib import Path; from owabi.demo import synth; "
        "o = Path(sys.argv[1]); synth.generate(records=1500, seed=5, out=o, truth_out=Path(sys.argv[2]))"
    )
    digests = []
    for hash_seed in ("1", "2"):
        env = dict(os.environ, PYTHONHASHSEED=hash_seed, PYTHONPATH=str(REPO))
        out, truth = tmp_path / f"h{hash_seed}.csv", tmp_path / f"h{hash_seed}.truth.csv"
        subprocess.run([sys.executable, "-c", code, str(out), str(truth)], check=True, env=env)
        digests.append((digest(out), digest(truth)))
    assert digests[0] == digests[1]


def test_progress_and_summary(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(synth, "PROGRESS_EVERY", 500)
    stdout, stderr = StringIO(), StringIO()
    run_synth(tmp_path, 1200, seed=1, stdout=stdout, stderr=stderr)
    assert stderr.getvalue().count("records/s") == 2  # at 500 and 1,000
    summary = stdout.getvalue().strip()
    assert "\n" not in summary and summary.startswith("synth: 1,200 records (") and "persons" in summary


def test_truth_path_option_and_default(tmp_path: Path) -> None:
    assert synth.default_truth_path(Path("x/leak.csv")) == Path("x/leak.truth.csv")
    assert synth.default_truth_path(Path("x/leak")) == Path("x/leak.truth.csv")
    out = tmp_path / "o.csv"
    call_command("synth", records=10, seed=1, out=str(out), truth=str(tmp_path / "t.csv"), as_of="2030-01-01")
    assert (tmp_path / "t.csv").exists()
    assert not (tmp_path / "o.truth.csv").exists()
    with pytest.raises(CommandError):
        call_command("synth", records=10, seed=1, out=str(out), as_of="2030-13-01")


def test_every_row_has_a_person_and_recipient(sample: Sample) -> None:
    for row in sample.rows:
        assert re.fullmatch(r"P\d{8}", row["person_id"])
        assert re.fullmatch(r"P\d{8}", row["recipient_id"])
    for person in sample.persons.values():
        assert len(person.recipients) == 1  # one recipient per person, across sources


def test_recipients_follow_design_4_2(sample: Sample) -> None:
    checked_minors = checked_adults = 0
    for pid, person in sample.persons.items():
        birth = person.birth
        if birth is None:
            continue
        (recipient,) = person.recipients
        if age_on(birth, AS_OF) >= 18:
            assert recipient == pid, pid
            checked_adults += 1
        else:
            assert recipient != pid, pid
            assert all(row["guardian_name"] for row in person.rows)
            checked_minors += 1
    assert checked_minors > 500 and checked_adults > 500


def test_minor_recipient_is_the_named_guardian(sample: Sample) -> None:
    """Where the guardian's own data leaked too, their rows carry the name on the children's rows."""
    guardian_names: dict[str, set[str]] = defaultdict(set)
    for row in sample.rows:
        if row["guardian_name"] and row["recipient_id"] != row["person_id"]:
            guardian_names[row["recipient_id"]].add(norm_name(row["guardian_name"]))
    matched = total = 0
    for recipient, names in guardian_names.items():
        own = sample.persons.get(recipient)
        if own is None:
            continue  # a guardian whose own data did not leak: still the recipient
        total += 1
        matched += any(norm_name(row["subject_name"]) in names for row in own.rows)
        assert all(not row["guardian_name"] for row in own.rows if row["person_id"] == recipient)
    assert total > 100
    assert matched / total > 0.9
    assert len(guardian_names) > total  # some guardians never appear as subjects


def test_siblings_share_recipient_across_sources(sample: Sample) -> None:
    children: dict[str, set[str]] = defaultdict(set)
    sources: dict[str, set[str]] = defaultdict(set)
    for row in sample.rows:
        if row["recipient_id"] != row["person_id"]:
            children[row["recipient_id"]].add(row["person_id"])
            sources[row["recipient_id"]].add(row["source"])
    families = [r for r, kids in children.items() if len(kids) >= 2]
    assert len(families) > 100
    assert any(len(sources[r]) >= 2 for r in families)


def test_hard_cases_present(sample: Sample) -> None:
    persons = sample.persons
    # Twins: one guardian, one birth date, two people with different names.
    by_recipient_birth: dict[tuple[str, date], set[str]] = defaultdict(set)
    for pid, person in persons.items():
        birth = person.birth
        if birth is not None and person.recipients != {pid}:
            by_recipient_birth[(next(iter(person.recipients)), birth)].add(pid)
    twins = [pids for pids in by_recipient_birth.values() if len(pids) >= 2]
    assert twins
    for pids in twins:
        names = {norm_name(r["subject_name"]) for p in pids for r in persons[p].rows if r["subject_name"]}
        assert len(names) >= 2

    # Namesakes: same name + birth date, different person, different prefecture.
    pref_of = {p.postcode: p.pref for p in synth.tables().places}
    key_to_pids: dict[tuple[str, date], set[str]] = defaultdict(set)
    for pid, person in persons.items():
        for row in person.rows:
            if row["subject_name"] and row["subject_birth_date"] and "dm_swap" not in row["tags"]:
                key_to_pids[(norm_name(row["subject_name"]), parse_date(row["subject_birth_date"]))].add(pid)
    namesakes = [pid for pid, p in persons.items() if "namesake" in p.tags]
    assert namesakes
    found = 0
    for pid in namesakes:
        row = persons[pid].rows[0]
        if not row["subject_birth_date"] or "dm_swap" in row["tags"]:
            continue
        others = key_to_pids[(norm_name(row["subject_name"]), parse_date(row["subject_birth_date"]))] - {pid}
        my_prefs = {pref_of[norm_postcode(r["postal_code"])] for r in persons[pid].rows}
        for other in others:
            their_prefs = {pref_of[norm_postcode(r["postal_code"])] for r in persons[other].rows}
            found += bool(persons[other].recipients != persons[pid].recipients and my_prefs != their_prefs)
    assert found

    # Parent / child with similar names at one address.
    similar = [pid for pid, p in persons.items() if "similar_parent" in p.tags]
    pairs = 0
    for a in similar:
        for b in similar:
            ra, rb = persons[a].rows[0], persons[b].rows[0]
            if (
                a < b
                and ra["postal_code"]
                and norm_postcode(ra["postal_code"]) == norm_postcode(rb["postal_code"])
            ):
                pairs += 1
    assert pairs

    # Pre-birth placeholders belong to the child born later, who appears in another source.
    placeholders = [r for r in sample.rows if "placeholder" in r["tags"]]
    assert placeholders
    linked = 0
    for row in placeholders:
        assert not row["subject_name"] and row["guardian_name"] and row["expected_delivery_date"]
        due = parse_date(row["expected_delivery_date"])
        child = persons[row["person_id"]]
        assert row["recipient_id"] == next(iter(child.recipients))  # the child's, whoever that is
        later = [r for r in child.rows if r["subject_name"] and r["source"] != row["source"]]
        births = [parse_date(r["subject_birth_date"]) for r in later if r["subject_birth_date"]]
        linked += any(abs((b - due).days) <= 31 for b in births)
    assert linked >= len(placeholders) // 2

    # Grown children: registered with a guardian, now their own recipient.
    grown = [p for pid, p in persons.items() if "grown_child" in p.tags]
    assert grown and all(p.recipients == {p.rows[0]["person_id"]} for p in grown)


VARIATIONS = (
    "dup", "hiragana_kana", "halfwidth_kana", "large_kana", "kana_typo", "itaiji", "married", "moved",
    "no_space", "fullwidth_space", "stray_space", "fullwidth_digits", "fullwidth_letters", "dash_variant",
    "wareki_date", "date_slash", "date_compact", "date_kanji", "dm_swap", "phone_format", "new_phone",
    "new_email", "email_upper", "missing_phone", "missing_email", "missing_kana", "missing_birth_date",
    "no_prefecture", "no_building", "kanji_numerals", "shared_card", "masked_card",
)  # fmt: skip


def test_every_variation_kind_appears(sample: Sample) -> None:
    seen = {t for row in sample.rows for t in row["tags"]}
    missing = [v for v in VARIATIONS if v not in seen]
    assert not missing


def test_variations_are_visible_in_the_data(sample: Sample) -> None:
    rows = sample.rows
    assert any(re.search("[ぁ-ゖ]", r["subject_kana"]) for r in rows if "hiragana_kana" in r["tags"])
    assert any(re.search("[ｦ-ﾟ]", r["subject_kana"]) for r in rows if "halfwidth_kana" in r["tags"])
    assert any(re.search("[髙﨑齋齊邊邉濱嶋𠮷澤櫻]", r["subject_name"]) for r in rows)
    assert any("\u3000" in r["subject_name"] for r in rows)
    assert any(re.search("[０-９]", r["address"]) for r in rows)
    assert any(re.search("[Ａ-Ｚａ-ｚ＠]", r["email"]) for r in rows)
    dashes = {c for r in rows for c in r["phone"] + r["postal_code"] + r["address"] if c in DASH_CHARS}
    assert len(dashes) >= 5
    phones = {r["phone"][:3] for r in rows if r["phone"].startswith("+81")}
    assert phones
    assert any(re.search(r"\d{3}\(\d{4}\)\d{4}", r["phone"]) for r in rows)
    assert any(re.search("号室", r["address"]) for r in rows)
    assert any(re.search("[一二三四五六七八九]丁目", r["address"]) for r in rows)
    assert any(r["email"] and r["email"] != r["email"].lower() for r in rows)
    for r in rows:
        if "dm_swap" in r["tags"]:
            parse_date(r["subject_birth_date"])  # still a valid date, just the wrong one


def test_married_women_change_surname(sample: Sample) -> None:
    changed = 0
    for person in sample.persons.values():
        married = [r for r in person.rows if "married" in r["tags"]]
        plain = [r for r in person.rows if "married" not in r["tags"] and r["subject_name"]]
        if married and plain:
            assert married[0]["subject_gender"] in {s.gender_labels[1] for s in synth.SOURCES} | {""}
            changed += norm_name(married[0]["subject_name"]) != norm_name(plain[0]["subject_name"])
    assert changed


def test_dates_parse(sample: Sample) -> None:
    for row in sample.rows:
        for col in ("subject_birth_date", "expected_delivery_date"):
            if row[col]:
                d = parse_date(row[col])
                assert date(1920, 1, 1) <= d <= date(2027, 1, 1), row


def test_postcodes_are_real(sample: Sample) -> None:
    known = synth.postcodes()
    assert len(known) > 3000
    for row in sample.rows:
        code = norm_postcode(row["postal_code"])
        assert re.fullmatch(r"\d{7}", code), row["postal_code"]
        assert code in known
    pref_of = {p.postcode: p.pref for p in synth.tables().places}
    with_pref = [r for r in sample.rows if "no_prefecture" not in r["tags"]]
    assert all(r["address"].startswith(pref_of[norm_postcode(r["postal_code"])]) for r in with_pref)


def test_phones_look_japanese(sample: Sample) -> None:
    for row in sample.rows:
        for col in ("phone", "fax"):
            if not row[col]:
                continue
            text = unicodedata.normalize("NFKC", row[col])
            digits = re.sub(r"\D", "", text)
            if text.startswith("+81"):
                digits = "0" + digits[2:]
            assert re.fullmatch(r"0\d{9,10}", digits), row[col]
            if len(digits) == 11:
                assert digits[:3] in {"090", "080", "070", "050"}


def test_cards(sample: Sample) -> None:
    """Every card value reads as the import reads it: the full numbers are valid, the masked ones show the
    same last 4 as the row's last-4 column, and brands are spelt as exports spell them."""
    full = masked = 0
    forms: set[str] = set()
    for row in sample.rows:
        if row["card_brand"]:
            assert cards.canonical_brand(row["card_brand"]), row["card_brand"]
        if row["card_last4"]:
            assert cards.reduce(row["card_last4"]).last4
        if not row["card_number"]:
            continue
        card = cards.reduce(row["card_number"])
        assert card.last4, row["card_number"]
        if card.number_hash:
            full += 1
            digits = re.sub(r"\D", "", unicodedata.normalize("NFKC", row["card_number"]))
            assert cards.luhn_ok(digits) and digits[0] in "3452" and len(digits) in (14, 15, 16)
            assert card.brand == (cards.canonical_brand(row["card_brand"]) or card.brand)
        else:
            masked += 1
            forms.add(re.sub(r"[0-9]{4}$", "9999", row["card_number"]))
        if row["card_last4"]:
            assert card.last4 == cards.reduce(row["card_last4"]).last4
        if row["card_expiry"]:
            assert re.fullmatch(r"(0[1-9]|1[0-2])/\d{2}", row["card_expiry"])
    assert full and masked >= full / 2
    for form in (
        "XXXX-XXXX-XXXX-9999",
        "末尾9999",
        "下4桁：9999",
        "9999",
        "●●●●-●●●●-●●●●-9999",
        "**** **** **** 9999",
    ):
        assert form in forms, form
    assert any(re.match(r"[0-9]{6}\*", f) for f in forms) and any("＊" in f for f in forms)
    spellings = {row["card_brand"] for row in sample.rows}
    assert {"VISA", "Visa", "ビザ", "MasterCard", "マスターカード", "JCB"} <= spellings
    assert any(r["card_last4"] and not r["card_number"] for r in sample.rows)


def test_mix(sample: Sample) -> None:
    dup_share = sum("dup" in r["tags"] for r in sample.rows) / len(sample.rows)
    assert 0.2 <= dup_share <= 0.35
    child_share = sum(bool(p.rows[0]["guardian_name"]) for p in sample.persons.values()) / len(sample.persons)
    assert 0.3 <= child_share <= 0.5


def test_name_tables_are_rich() -> None:
    tab = synth.tables()
    assert tab.surname_count >= 400
    assert tab.given_count["M"] >= 300 and tab.given_count["F"] >= 300
    kana = re.compile(r"[ァ-ヶー]+")
    surnames = {n.kanji: n for n in tab.surnames}
    assert all(kana.fullmatch(n.kana) for n in surnames.values())
    for pool in tab.given.values():
        assert all(kana.fullmatch(n.kana) for n in pool)
    # Skewed: 佐藤 is far more common than the median surname.
    counts: dict[str, int] = defaultdict(int)
    for n in tab.surnames:
        counts[n.kanji] += 1
    assert counts["佐藤"] > 20 * sorted(counts.values())[len(counts) // 2]
    # Homophones and variant spellings as separate real surnames.
    assert surnames["伊藤"].kana == surnames["伊東"].kana
    assert surnames["斎藤"].kana == surnames["斉藤"].kana == surnames["齋藤"].kana
    assert {"渡邊", "渡邉", "髙橋", "山﨑"} <= set(surnames)
    assert "髙橋" in surnames["高橋"].alts


def test_romaji() -> None:
    assert synth.romaji("サトウ", long_vowels=False) == "sato"
    assert synth.romaji("サトウ", long_vowels=True) == "satou"
    assert synth.romaji("ショウタ", long_vowels=False) == "shota"
    assert synth.romaji("ハットリ", long_vowels=False) == "hattori"
    assert synth.romaji("キョウコ", long_vowels=True) == "kyouko"


def test_unrelated_people_never_share_an_e_mail_address(tmp_path: Path, monkeypatch) -> None:
    from owabi.demo import synth

    monkeypatch.setattr(synth, "SHARED_EMAIL_RATE", 0.0)  # no spouses sharing one on purpose
    out = tmp_path / "m.csv"
    call_command("synth", records=20000, seed=5, out=str(out))
    with out.open(encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    with out.with_name("m.truth.csv").open(encoding="utf-8") as handle:
        truth = {row["record_id"]: row for row in csv.DictReader(handle)}
    owners: dict[str, set[str]] = {}
    for row in rows:
        address = unicodedata.normalize("NFKC", row["email"]).lower()
        if address and not row["guardian_name"]:  # a person's own row: their own address
            owners.setdefault(address, set()).add(truth[row["record_id"]]["person_id"])
    shared = [address for address, people in owners.items() if len(people) > 1]
    assert len(owners) > 5000 and shared == []
