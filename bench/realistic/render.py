"""How one true person becomes one row of the export: which system holds the row, what that system's
input path does to each value (a web form, a call centre operator, a legacy migration, a hand-keyed
paper form, a smartphone app), and a tag for every change made, so errors can be read by class.
Rates are per row of the named source; the package docstring says where they come from."""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import date, timedelta

from bench.realistic import vocab
from bench.realistic.world import FIRST_YEAR, LAST_YEAR, Address, Person

# (name written in the source column, first year the system held rows, weight among rows of a year)
SOURCES = {
    "web": ("Web会員", 2005, 45),
    "app": ("アプリ会員", 2016, 20),
    "cc": ("コールセンター受付", FIRST_YEAR, 20),
    "legacy": ("旧基幹システム移行", FIRST_YEAR, 60),
    "paper": ("店頭申込書", FIRST_YEAR, 10),
}
LEGACY_LAST_YEAR = 2012  # rows keyed after this went to the new systems


@dataclass
class Row:
    source: str
    values: dict[str, str]
    tags: list[str]


class Renderer:
    def __init__(self, rng: random.Random, as_of: date) -> None:
        self.rng = rng
        self.as_of = as_of

    def chance(self, p: float) -> bool:
        return self.rng.random() < p

    # -- which rows a person has --------------------------------------------------------------------------
    def rows(self, person: Person) -> list[Row]:
        rng = self.rng
        start = max(FIRST_YEAR, person.birth.year if person.guardian else person.birth.year + 18)
        count = person.records
        out: list[Row] = []
        if person.expected is not None and count:
            registered = person.expected - timedelta(days=rng.randint(30, 240))
            out.append(self.placeholder(person, registered.year))
            count = count - 1 if "case:unborn" in person.cases else max(count - 1, 1)
            if "case:unborn" in person.cases:
                while count > 0:  # a second maternity sign-up, still without a name
                    out.append(self.placeholder(person, LAST_YEAR))
                    count -= 1
                return out
        for _ in range(count):
            year = LAST_YEAR - min(int(rng.expovariate(1 / 9)), max(LAST_YEAR - start, 0))
            out.append(self.row(person, max(year, start)))
        return out

    def _source(self, year: int, child_row: bool) -> str:
        names = [
            s
            for s, (_, first, _) in SOURCES.items()
            if first <= year and (s != "legacy" or year <= LEGACY_LAST_YEAR)
        ]
        weights = [float(SOURCES[s][2]) for s in names]
        if child_row:  # children are signed up by parents on the web and on paper more than by phone
            weights = [w * (1.5 if s in ("web", "paper") else 1) for s, w in zip(names, weights, strict=True)]
        return self.rng.choices(names, weights=weights)[0]

    # -- a row --------------------------------------------------------------------------------------------
    def row(self, person: Person, year: int) -> Row:
        guardian = person.guardian
        by_guardian = guardian is not None and date(year, 12, 31) < _eighteenth(person.birth)
        source = self._source(year, by_guardian)
        tags = [f"src:{source}", "by_guardian" if by_guardian else "own_row"]
        values: dict[str, str] = {"source": SOURCES[source][0]}
        surname, surname_kana, address = (
            person.surname,
            person.surname_kana,
            person.household.home(year).address,
        )
        if person.maiden and year < person.maiden[2]:
            surname, surname_kana, _, address = person.maiden
            tags.append("maiden_name")
        if address is not person.household.homes[-1].address and not (
            person.maiden and year < person.maiden[2]
        ):
            tags.append("old_address")
        values["subject_name"], values["subject_kana"] = self.name(
            source, surname, surname_kana, person.given, person.given_kana, tags, ""
        )
        values["subject_birth_date"] = self.birth_date(source, person.birth, tags)
        values["subject_gender"] = self.gender(source, person.gender)
        contact = guardian if by_guardian and guardian is not None else person
        if by_guardian and guardian is not None:
            values["relationship"] = self.rng.choice((person.relationship, "子", "子", ""))
            g_surname, g_kana = guardian.surname, guardian.surname_kana
            values["guardian_name"], values["guardian_kana"] = self.name(
                source, g_surname, g_kana, guardian.given, guardian.given_kana, tags, "guardian_"
            )
            if person.expected is not None and self.chance(0.2):
                values["expected_delivery_date"] = self.iso(person.expected)
                tags.append("due_date_kept")
        else:
            values["relationship"] = "本人" if self.chance(0.4) else ""
        self.contacts(source, person, contact, year, address, values, tags)
        self.migrate(source, values, tags)
        return Row(source, values, tags)

    def placeholder(self, child: Person, year: int) -> Row:
        """A child signed up before birth: the guardian's contacts, a due date, a name that is not one."""
        rng = self.rng
        guardian = child.guardian
        assert guardian is not None and child.expected is not None
        source = rng.choices(("web", "app", "paper", "cc"), weights=(45, 25, 20, 10))[0]
        tags = [f"src:{source}", "by_guardian", "placeholder_name"]
        name, kana = rng.choice(vocab.PLACEHOLDER_NAMES)
        values = {
            "source": SOURCES[source][0],
            "subject_name": name.format(surname=child.surname),
            "subject_kana": kana.format(kana=child.surname_kana),
            "relationship": rng.choice(("子", "第一子", "第二子", "")),
            "expected_delivery_date": self.birth_date(source, child.expected, [], errors=False),
        }
        if self.chance(0.15):  # some systems put the due date in the birth date column
            values["subject_birth_date"] = values["expected_delivery_date"]
            tags.append("dob_is_due_date")
        values["guardian_name"], values["guardian_kana"] = self.name(
            source,
            guardian.surname,
            guardian.surname_kana,
            guardian.given,
            guardian.given_kana,
            tags,
            "guardian_",
        )
        home = child.household.home(year)
        self.contacts(source, child, guardian, year, home.address, values, tags)
        return Row(source, values, tags)

    # -- names --------------------------------------------------------------------------------------------
    def name(
        self,
        source: str,
        surname: str,
        surname_kana: str,
        given: str,
        given_kana: str,
        tags: list[str],
        who: str,
    ) -> tuple[str, str]:
        rng = self.rng
        if source == "cc":  # the operator chooses kanji from what they hear
            if self.chance(0.06):
                options = [
                    s for s in vocab.tables().surnames_by_reading.get(surname_kana, ()) if s != surname
                ]
                if options:
                    surname = rng.choice(options)
                    tags.append(f"{who}surname_homophone")
            if self.chance(0.08):
                options = [
                    g
                    for gender in "MF"
                    for g in vocab.tables().given_by_reading.get((gender, given_kana), ())
                    if g != given
                ]
                if options:
                    given = rng.choice(options)
                    tags.append(f"{who}given_homophone")
            if self.chance(0.01):
                given_kana = self.kana_typo(given_kana, tags, who, kinds=("voice",))
                tags.append(f"{who}given_misheard")
        surname, given = self.variants(source, surname, tags, who), self.variants(source, given, tags, who)
        if source == "paper" and self.chance(0.02):
            text = surname + given
            hits = [c for c in text if c in vocab.KANJI_LOOKALIKE]
            if hits:
                c = rng.choice(hits)
                surname, given = (
                    surname.replace(c, vocab.KANJI_LOOKALIKE[c]),
                    given.replace(c, vocab.KANJI_LOOKALIKE[c]),
                )
                tags.append(f"{who}kanji_misread")
        separator = self.separator(source)
        if separator == "":
            tags.append(f"{who}name_nospace")
        kana = self.kana(source, surname_kana, given_kana, tags, who)
        written = surname + separator + given
        kana_only = {"web": 0.02, "app": 0.04, "legacy": 0.06, "paper": 0.01}.get(source, 0.0)
        if self.chance(kana_only):
            reading = surname_kana + separator + given_kana
            written = (
                vocab.to_halfwidth_kana(reading)
                if source == "legacy"
                else vocab.to_hiragana(reading)
                if self.chance(0.5)
                else reading
            )
            tags.append(f"{who}name_in_kana")
        if source == "legacy" and len(written) > 10 and self.chance(0.5):
            written = written[:10]
            tags.append(f"{who}name_truncated")
        return written, kana

    def variants(self, source: str, text: str, tags: list[str], who: str) -> str:
        """異体字: the registered form is lost to the IME or the old character set, or added by a careful
        clerk; 斎/斉 are confused on the phone."""
        out = []
        for c in text:
            group = vocab.VARIANT_GROUP.get(c)
            if group is None:
                out.append(c)
                continue
            rare = c != group[0]
            if source == "legacy" and c in vocab.NOT_IN_JIS and self.chance(0.6):
                new = "〓" if self.chance(0.5) else group[0]
                tags.append(f"{who}geta" if new == "〓" else f"{who}kanji_variant")
                out.append(new)
                continue
            p = {"cc": 0.5, "legacy": 0.3, "paper": 0.3}.get(source, 0.25) if rare else 0.03
            if self.chance(p):
                choices = [g for g in group if g != c]
                new = group[0] if rare and self.chance(0.8) else self.rng.choice(choices)
                tags.append(f"{who}kanji_variant")
                out.append(new)
            else:
                out.append(c)
        return "".join(out)

    def separator(self, source: str) -> str:
        options = {
            "web": ((" ", "\u3000", ""), (45, 30, 25)),
            "app": ((" ", "\u3000", ""), (50, 10, 40)),
            "cc": ((" ", "\u3000", ""), (60, 30, 10)),
            "legacy": ((" ", "\u3000", ""), (10, 60, 30)),
            "paper": ((" ", "\u3000", ""), (50, 10, 40)),
        }[source]
        return self.rng.choices(options[0], weights=options[1])[0]

    def kana(self, source: str, surname_kana: str, given_kana: str, tags: list[str], who: str) -> str:
        missing = {"web": 0.05, "app": 0.10, "cc": 0.05, "legacy": 0.05, "paper": 0.10}[source]
        if self.chance(missing):
            tags.append(f"{who}kana_missing")
            return ""
        typo = {"web": 0.015, "app": 0.015, "cc": 0.05, "legacy": 0.01, "paper": 0.04}[source]
        kinds = ("lookalike",) if source == "paper" else ("voice", "small", "long", "drop")
        if self.chance(typo / 2):
            surname_kana = self.kana_typo(surname_kana, tags, who, kinds)
        elif self.chance(typo / 2):
            given_kana = self.kana_typo(given_kana, tags, who, kinds)
        if (
            source == "legacy"
            and any(c in "ャュョッァィゥェォ" for c in surname_kana + given_kana)
            and self.chance(0.4)
        ):
            # bank-style kana: no small letters
            big = str.maketrans("ャュョッァィゥェォ", "ヤユヨツアイウエオ")
            surname_kana, given_kana = surname_kana.translate(big), given_kana.translate(big)
            tags.append(f"{who}kana_no_small")
        separator = self.separator(source)
        reading = surname_kana + separator + given_kana
        if source == "legacy" and self.chance(0.7):
            reading = vocab.to_halfwidth_kana(reading)
            tags.append(f"{who}kana_halfwidth")
            if len(reading) > 14 and self.chance(0.5):
                reading = reading[:14]
                tags.append(f"{who}kana_truncated")
        elif source in ("web", "app", "paper") and self.chance(
            {"web": 0.17, "app": 0.3, "paper": 0.2}[source]
        ):
            reading = vocab.to_hiragana(reading)
            tags.append(f"{who}kana_hiragana")
        return reading

    def kana_typo(self, kana: str, tags: list[str], who: str, kinds: tuple[str, ...]) -> str:
        rng = self.rng
        for kind in rng.sample(kinds, len(kinds)):
            if kind == "voice":
                spots = [i for i, c in enumerate(kana) if c in vocab.VOICE_FLIP]
                if spots:
                    i = rng.choice(spots)
                    tags.append(f"{who}kana_typo_voiced")
                    return kana[:i] + vocab.VOICE_FLIP[kana[i]] + kana[i + 1 :]
            elif kind == "small":
                spots = [i for i, c in enumerate(kana) if c in vocab.SMALL_FLIP and i > 0]
                if spots:
                    i = rng.choice(spots)
                    tags.append(f"{who}kana_typo_small")
                    return kana[:i] + vocab.SMALL_FLIP[kana[i]] + kana[i + 1 :]
            elif kind == "long":
                spots = [
                    i
                    for i, c in enumerate(kana)
                    if c in "ウオー" and i > 0 and kana[i - 1] in vocab.O_ROW | {"ユ", "ュ", "ウ"}
                ]
                if spots:
                    i = rng.choice(spots)
                    new = rng.choice([x for x in ("ウ", "ー", "オ", "") if x != kana[i]])
                    tags.append(f"{who}kana_typo_long")
                    return kana[:i] + new + kana[i + 1 :]
            elif kind == "lookalike":
                spots = [i for i, c in enumerate(kana) if c in vocab.LOOKALIKE]
                if spots:
                    i = rng.choice(spots)
                    tags.append(f"{who}kana_typo_lookalike")
                    return kana[:i] + vocab.LOOKALIKE[kana[i]] + kana[i + 1 :]
            elif kind == "drop" and len(kana) > 2:
                i = rng.randrange(1, len(kana))
                tags.append(f"{who}kana_typo_drop")
                return kana[:i] + kana[i + 1 :]
        return kana

    # -- dates --------------------------------------------------------------------------------------------
    def iso(self, day: date) -> str:
        return day.isoformat()

    def birth_date(self, source: str, day: date, tags: list[str], *, errors: bool = True) -> str:
        rng = self.rng
        if errors:
            missing = {"web": 0.03, "app": 0.05, "cc": 0.05, "legacy": 0.05, "paper": 0.05}[source]
            if self.chance(missing):
                tags.append("dob_missing")
                return ""
            if source == "legacy" and self.chance(0.015):
                tags.append("dob_placeholder")
                return rng.choice(("不明", "19000101", "00000000", "1900/01/01"))
            day, error = self.date_error(source, day)
            if error:
                tags.append(error)
        if source == "cc" and errors and self.chance(0.015):
            # the caller said an era year and the operator converted it wrongly (off by one, or the wrong era)
            if self.chance(0.6) or day.year < 1990:
                shifted = _replace_year(day, day.year + rng.choice((-1, 1)))
            else:
                era_year = day.year - 1988 if day.year < 2019 else day.year - 2018
                shifted = _replace_year(day, era_year + (2018 if day.year < 2019 else 1988))
            if shifted.year >= 1900 and shifted < self.as_of:
                tags.append("dob_era_conversion")
                day = shifted
        style = {
            "web": (("iso", "slash0", "slash"), (50, 30, 20)),
            "app": (("iso", "slash0"), (90, 10)),
            "cc": (("era_kanji", "era_short", "slash"), (40, 20, 40)),
            "legacy": (("compact", "era_short", "slash0"), (60, 30, 10)),
            "paper": (("slash", "era_kanji"), (50, 50)),
        }[source]
        fmt = rng.choices(style[0], weights=style[1])[0]
        if fmt.startswith("era") and errors:
            tags.append("dob_era")
        return _format_date(day, fmt)

    def date_error(self, source: str, day: date) -> tuple[date, str]:
        rng = self.rng
        rates = {
            "web": (0.0, 0.0, 0.008, 0.004),
            "app": (0.0, 0.0, 0.005, 0.0),
            "cc": (0.015, 0.008, 0.008, 0.0),
            "legacy": (0.01, 0.004, 0.0, 0.0),
            "paper": (0.025, 0.008, 0.005, 0.0),
        }[source]
        digit, swap, near, month = rates
        r = rng.random()
        if r < digit:
            text = day.strftime("%Y%m%d")
            for _ in range(10):
                i = rng.randrange(2, 8)
                new_digit = (
                    vocab.DIGIT_LOOKALIKE.get(text[i], str(rng.randint(0, 9)))
                    if source == "paper"
                    else str(rng.randint(0, 9))
                )
                candidate = text[:i] + new_digit + text[i + 1 :]
                parsed = _parse(candidate)
                if parsed and parsed != day and parsed < self.as_of:
                    return parsed, "dob_digit"
            return day, ""
        if r < digit + swap and day.day <= 12 and day.day != day.month:
            return date(day.year, day.day, day.month), "dob_day_month_swap"
        if r < digit + swap + near:  # the neighbouring entry in a drop-down, or a day misremembered
            moved = day + timedelta(days=rng.choice((-1, 1)))
            return moved, "dob_off_by_one_day"
        if r < digit + swap + near + month:
            next_month = _parse(f"{day.year:04d}{day.month % 12 + 1:02d}{day.day:02d}")
            if next_month:
                return next_month, "dob_month_off"
        return day, ""

    def gender(self, source: str, gender: str) -> str:
        rng = self.rng
        if self.chance({"web": 0.2, "app": 0.3, "cc": 0.3, "legacy": 0.05, "paper": 0.2}[source]):
            return ""
        if source == "legacy":
            return "1" if gender == "M" else "2"
        if source == "app":
            return gender
        words = ("男性", "女性") if rng.random() < 0.6 else ("男", "女")
        return words[0] if gender == "M" else words[1]

    # -- contacts -----------------------------------------------------------------------------------------
    def contacts(
        self,
        source: str,
        person: Person,
        contact: Person,
        year: int,
        address: Address,
        values: dict[str, str],
        tags: list[str],
    ) -> None:
        home = person.household.home(year)
        values["postal_code"] = self.postal(source, address.postcode, tags)
        values["address"] = self.address(source, address, tags)
        landline = home.landline if address is home.address else ""
        if contact.mobile and (not landline or self.chance(0.75)):
            number = contact.mobile
        else:
            number = landline
            if number:
                tags.append("phone_landline")
        values["phone"] = self.phone(source, number, tags)
        if person.household.fax and source in ("legacy", "paper") and self.chance(0.5):
            values["fax"] = self.phone(source, person.household.fax, [])
        email = contact.email(year)
        if email and email != contact.emails[-1][1]:
            tags.append("email_old")
        present = {"web": 0.95, "app": 0.98, "cc": 0.3, "legacy": 0.2, "paper": 0.4}[source]
        if email and self.chance(present):
            values["email"] = self.email(source, email, tags)
        elif email:
            tags.append("email_missing")
        card = contact.card
        with_card = {"web": 0.4, "app": 0.4, "cc": 0.1}.get(source, 0.0)
        if card and self.chance(with_card):
            brand, last4, expiry = card
            values["card_brand"] = brand
            if self.chance(0.6):
                values["card_last4"] = last4
            else:
                values["card_number"] = "*" * (11 if brand == "AMEX" else 12) + last4
            if self.chance(0.7):
                values["card_expiry"] = expiry

    def postal(self, source: str, code: str, tags: list[str]) -> str:
        rng = self.rng
        if self.chance(0.03 if source != "app" else 0.3):
            tags.append("postal_missing")
            return ""
        if source == "legacy" and self.chance(0.01):
            tags.append("postal_placeholder")
            return "000-0000"
        hyphen = f"{code[:3]}-{code[3:]}"
        r = rng.random()
        if source == "legacy" or source == "cc":
            return hyphen if r < 0.7 else code
        if r < 0.6:
            return hyphen
        if r < 0.85:
            tags.append("postal_nohyphen")
            return code
        if r < 0.95:
            tags.append("postal_mark")
            return "〒" + hyphen
        tags.append("postal_fullwidth")
        return hyphen.translate(vocab.FULLWIDTH_DIGITS)

    def address(self, source: str, address: Address, tags: list[str]) -> str:
        rng = self.rng
        if self.chance({"app": 0.3, "web": 0.03}.get(source, 0.02)):
            tags.append("address_missing")
            return ""
        head = address.prefecture + address.city
        if self.chance({"web": 0.08, "cc": 0.12, "paper": 0.15}.get(source, 0.0)):
            head = address.city
            tags.append("address_no_prefecture")
        town = address.town
        chome, banchi, go = address.chome, address.banchi, address.go
        style = rng.choices(("hyphen", "kanji", "mixed", "kanji_numerals"), weights=(60, 20, 12, 8))[0]
        if chome is None:
            if style != "hyphen" and self.chance(0.3):
                town = "大字" + town
                tags.append("address_oaza")
            number = (
                f"{banchi}番地" + (f"{go}" if go else "")
                if style != "hyphen"
                else f"{banchi}" + (f"-{go}" if go else "")
            )
        elif style == "hyphen":
            number = f"{chome}-{banchi}" + (f"-{go}" if go else "")
        elif style == "kanji":
            number = f"{chome}丁目{banchi}番" + (f"{go}号" if go else "地")
        elif style == "mixed":
            number = f"{chome}丁目{banchi}" + (f"-{go}" if go else "")
        else:
            number = f"{vocab.kanji_number(chome)}丁目{banchi}番" + (f"{go}号" if go else "地")
        if style != "hyphen":
            tags.append(f"address_{style}")
        hyphen = "-"
        if source in ("web", "paper") and self.chance(0.06):
            hyphen = rng.choice(("－", "ー", "‐", "−"))
            tags.append("address_odd_hyphen")
        number = number.replace("-", hyphen)
        if (source == "legacy" and self.chance(0.4)) or (source == "web" and self.chance(0.12)):
            number = number.translate(vocab.FULLWIDTH_DIGITS)
            tags.append("address_fullwidth")
        text = head + town + number
        if address.building:
            r = rng.random()
            keep = {"web": 0.75, "app": 0.7, "cc": 0.6, "legacy": 0.5, "paper": 0.7}[source]
            if r < keep:
                gap = rng.choice((" ", "\u3000", "")) if source != "legacy" else "\u3000"
                text += f"{gap}{address.building}{rng.choice(('', ' '))}{address.room}" + (
                    "号室" if self.chance(0.2) else ""
                )
            elif r < keep + 0.15:
                text += f"{hyphen}{address.room}"
                tags.append("address_room_only")
            else:
                tags.append("address_no_building")
        if source == "legacy" and len(text) > 30 and self.chance(0.3):
            text = text[:30]
            tags.append("address_truncated")
        return text

    def phone(self, source: str, number: str, tags: list[str]) -> str:
        rng = self.rng
        if not number or self.chance({"web": 0.03, "app": 0.05}.get(source, 0.04)):
            tags.append("phone_missing")
            return ""
        if source == "legacy" and self.chance(0.02):
            tags.append("phone_dummy")
            return rng.choice(("000-0000-0000", "00000000000", "999-9999-9999", "不明", "なし"))
        if source == "cc" and self.chance(0.02):
            i = rng.randrange(3, len(number) - 1)
            if number[i] != number[i + 1]:
                number = number[:i] + number[i + 1] + number[i] + number[i + 2 :]
                tags.append("phone_transposed")
        elif source in ("cc", "paper") and self.chance(0.015 if source == "cc" else 0.03):
            i = rng.randrange(3, len(number))
            new = (
                vocab.DIGIT_LOOKALIKE.get(number[i], "5")
                if source == "paper"
                else str((int(number[i]) + 1) % 10)
            )
            number = number[:i] + new + number[i + 1 :]
            tags.append("phone_digit")
        mobile = number[:3] in ("090", "080", "070")
        area = (
            3
            if mobile
            else 2
            if number[:2] in ("03", "06")
            else 3
            if number[:3] in vocab.AREA_CODES.values()
            else 4
        )
        parts = (number[:area], number[area:-4], number[-4:])
        r = rng.random()
        hyphen_share = {"web": 0.55, "app": 0.2, "cc": 0.7, "legacy": 0.7, "paper": 0.6}[source]
        if r < hyphen_share:
            text = "-".join(parts)
        elif source == "legacy" and not mobile and r < hyphen_share + 0.2:
            text = f"({parts[0]}){parts[1]}-{parts[2]}"
            tags.append("phone_brackets")
        else:
            text = number
            tags.append("phone_nohyphen")
        if source == "web" and self.chance(0.02):
            text = "+81 " + "-".join((parts[0][1:], parts[1], parts[2]))
            tags.append("phone_intl")
        elif source == "web" and self.chance(0.03):
            text = text.translate(vocab.FULLWIDTH_DIGITS)
            tags.append("phone_fullwidth")
        return text

    def email(self, source: str, email: str, tags: list[str]) -> str:
        rng = self.rng
        local, domain = email.split("@")
        typo = {"web": 0.015, "app": 0.005, "cc": 0.06, "legacy": 0.02, "paper": 0.05}[source]
        if self.chance(typo):
            if domain in vocab.DOMAIN_TYPOS and self.chance(0.5):
                domain = rng.choice(vocab.DOMAIN_TYPOS[domain])
            elif source == "cc":  # spelled out on the phone
                swaps = (("b", "v"), ("l", "r"), ("m", "n"), ("_", "-"), ("si", "shi"), ("tu", "tsu"))
                for a, b in rng.sample(swaps, len(swaps)):
                    if a in local:
                        local = local.replace(a, b, 1)
                        break
                    if b in local:
                        local = local.replace(b, a, 1)
                        break
                else:
                    local = local + local[-1]
            elif len(local) > 3:
                i = rng.randrange(1, len(local) - 1)
                local = local[:i] + local[i + 1] + local[i] + local[i + 2 :]
            tags.append("email_typo")
        elif source in ("web", "app") and self.chance(0.02):
            local = local[:1].upper() + local[1:]  # a phone capitalised the first letter
            tags.append("email_capital")
        return f"{local}@{domain}"

    # -- migrations ---------------------------------------------------------------------------------------
    def migrate(self, source: str, values: dict[str, str], tags: list[str]) -> None:
        """Damage done moving rows between systems: shifted columns."""
        if source != "legacy":
            return
        if self.chance(0.004) and values.get("phone"):
            values["fax"], values["phone"] = values["phone"], ""
            tags.append("shift_phone_to_fax")
        elif self.chance(0.003):
            values["subject_name"], values["subject_kana"] = (
                values.get("subject_kana", ""),
                values.get("subject_name", ""),
            )
            tags.append("shift_name_kana_swapped")


def _eighteenth(birth: date) -> date:
    return _replace_year(birth, birth.year + 18)


def _replace_year(day: date, year: int) -> date:
    try:
        return day.replace(year=year)
    except ValueError:  # 29 February
        return day.replace(year=year, day=28)


def _parse(text: str) -> date | None:
    try:
        return date(int(text[:4]), int(text[4:6]), int(text[6:8]))
    except ValueError:
        return None


_ERAS = (("令和", "R", date(2019, 5, 1)), ("平成", "H", date(1989, 1, 8)), ("昭和", "S", date(1926, 12, 25)))


def _format_date(day: date, fmt: str) -> str:
    if fmt == "iso":
        return day.isoformat()
    if fmt == "slash0":
        return day.strftime("%Y/%m/%d")
    if fmt == "slash":
        return f"{day.year}/{day.month}/{day.day}"
    if fmt == "compact":
        return day.strftime("%Y%m%d")
    for kanji, letter, start in _ERAS:
        if day >= start:
            year = day.year - start.year + 1
            if fmt == "era_kanji":
                return f"{kanji}{'元' if year == 1 else year}年{day.month}月{day.day}日"
            return f"{letter}{year}.{day.month}.{day.day}"
    return f"{day.year}/{day.month}/{day.day}"
