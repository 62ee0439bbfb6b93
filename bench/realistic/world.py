"""The true world behind the export: households, people and their life events (moves, marriages,
children born after a pre-birth registration), with the hard cases made on purpose (twins, same-reading
father and son, namesakes, neighbours, shared family e-mail). Rates are in the package docstring."""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import date, timedelta

from bench.realistic import vocab

LAST_YEAR = 2026
FIRST_YEAR = 2000  # the oldest records any system of the company still holds


@dataclass
class Address:
    postcode: str
    prefecture: str
    city: str
    town: str
    chome: int | None
    banchi: int
    go: int | None
    building: str  # "" for a house
    room: str


@dataclass
class Home:
    since: int  # year moved in
    address: Address
    landline: str  # "" when none


@dataclass
class Household:
    homes: list[Home]
    fax: str = ""
    family_email: str = ""

    def home(self, year: int) -> Home:
        current = self.homes[0]
        for home in self.homes:
            if home.since <= year:
                current = home
        return current


@dataclass
class Person:
    pid: int
    surname: str
    surname_kana: str
    given: str
    given_kana: str
    gender: str  # M / F
    birth: date
    household: Household
    guardian: Person | None = None  # the parent who registers this person while a minor
    relationship: str = "本人"
    mobile: str = ""
    emails: list[tuple[int, str]] = field(default_factory=list)  # (from year, address)
    maiden: tuple[str, str, int, Address] | None = None  # surname, kana, year married, parents' address
    card: tuple[str, str, str] | None = None  # brand, last 4, expiry MM/YY
    expected: date | None = None  # 出産予定日 of a pre-birth registration
    cases: list[str] = field(default_factory=list)
    records: int = 1

    def email(self, year: int) -> str:
        current = ""
        for since, address in self.emails:
            if since <= year or not current:
                current = address
        return current

    def is_minor(self, on: date) -> bool:
        eighteen = date(
            self.birth.year + 18, self.birth.month, min(self.birth.day, 28 if self.birth.month == 2 else 31)
        )
        return eighteen > on

    def recipient(self, on: date) -> int:
        """DESIGN §4.2: an adult is their own recipient; a minor's is the guardian."""
        if self.guardian is not None and self.is_minor(on):
            return self.guardian.pid
        return self.pid


class World:
    """Makes households one at a time (nothing is kept between units but the e-mail addresses handed out,
    which a mail provider never gives to two people)."""

    def __init__(self, rng: random.Random, as_of: date) -> None:
        self.rng = rng
        self.as_of = as_of
        self.tables = vocab.tables()
        self.next_pid = 1
        self.addresses: set[str] = set()

    # -- values -------------------------------------------------------------------------------------------
    def _birth(self, first: int, last: int) -> date:
        start, end = date(first, 1, 1).toordinal(), date(last, 12, 31).toordinal()
        return date.fromordinal(self.rng.randint(start, end))

    def _given(self, gender: str, birth: date) -> tuple[str, str]:
        name, reading = self.tables.given[(gender, vocab.era_of(birth.year))].pick(self.rng)
        return name, reading

    def _address(self, near: Address | None = None) -> Address:
        rng = self.rng
        if near is not None:
            if near.building:
                room = f"{rng.randint(1, 12)}0{rng.randint(1, 9)}"
                while room == near.room:
                    room = f"{rng.randint(1, 12)}0{rng.randint(1, 9)}"
                return Address(**{**near.__dict__, "room": room})
            go = (near.go or 1) + rng.choice((-2, -1, 1, 2))
            return Address(**{**near.__dict__, "go": max(go, 1)})
        code, prefecture, city, town, has_chome = rng.choice(self.tables.postcodes)
        apartment = rng.random() < 0.40  # about 4 in 10 Japanese households live in flats (census 2020)
        building = ""
        if apartment:
            building = rng.choice(vocab.BUILDING_HEADS) + rng.choice(vocab.BUILDING_TAILS)
            if rng.random() < 0.3:
                building = (
                    f"{building}{rng.choice('ABC')}棟"
                    if rng.random() < 0.3
                    else f"第{rng.randint(1, 3)}{building}"
                )
        return Address(
            postcode=code,
            prefecture=prefecture,
            city=city,
            town=town,
            chome=rng.randint(1, 6) if has_chome else None,
            banchi=rng.randint(1, 40) if has_chome else rng.randint(1, 2500),
            go=rng.randint(1, 30) if has_chome or rng.random() < 0.4 else None,
            building=building,
            room=f"{rng.randint(1, 12)}0{rng.randint(1, 9)}" if apartment else "",
        )

    def _landline(self, prefecture: str) -> str:
        rng = self.rng
        area = vocab.AREA_CODES.get(prefecture) or f"0{rng.randint(11, 99)}{rng.randint(0, 9)}"
        local = 10 - len(area)  # Japanese fixed-line numbers have ten digits with the area code
        digits = f"{rng.randint(2, 9)}{rng.randint(0, 10 ** (local - 1) - 1):0{local - 1}d}"
        return area + digits

    def _mobile(self) -> str:
        return self.tables_mobile_prefix() + f"{self.rng.randint(10_000_000, 99_999_999)}"

    def tables_mobile_prefix(self) -> str:
        return vocab.MOBILE_PREFIXES.pick(self.rng)[0]

    def _email(self, person: Person) -> str:
        rng = self.rng
        given, surname = vocab.romaji(person.given_kana), vocab.romaji(person.surname_kana)
        style = rng.random()
        if style < 0.3:
            local = f"{given}.{surname}"
        elif style < 0.5:
            local = f"{surname}{given}{person.birth.year % 100:02d}"
        elif style < 0.7:
            local = f"{given}{person.birth.month:02d}{person.birth.day:02d}"
        elif style < 0.85:
            local = f"{given[:1]}{surname}{rng.randint(1, 999)}"
        else:
            local = "".join(rng.choice("abcdefghijklmnopqrstuvwxyz") for _ in range(rng.randint(5, 9)))
            local += str(rng.randint(0, 99))
        domain = vocab.EMAIL_DOMAINS.pick(rng)[0]
        address = f"{local or 'user'}@{domain}"
        while address in self.addresses:  # taken: the provider makes the person choose another, as people do
            address = f"{local or 'user'}{rng.randint(1, 9999)}@{domain}"
        self.addresses.add(address)
        return address

    def _card(self) -> tuple[str, str, str]:
        rng = self.rng
        return (
            vocab.CARD_BRANDS.pick(rng)[0],
            f"{rng.randint(0, 9999):04d}",
            f"{rng.randint(1, 12):02d}/{rng.randint(27, 31)}",
        )

    def _records(self, child: bool) -> int:
        """How many rows one person has: most one, a long tail across services and re-registrations."""
        r = self.rng.random()
        if child:
            return (
                1
                if r < 0.45
                else 2
                if r < 0.72
                else 3
                if r < 0.87
                else 4
                if r < 0.95
                else self.rng.randint(5, 8)
            )
        return (
            1 if r < 0.60 else 2 if r < 0.84 else 3 if r < 0.94 else 4 if r < 0.98 else self.rng.randint(5, 8)
        )

    # -- people -------------------------------------------------------------------------------------------
    def person(
        self,
        household: Household,
        *,
        surname: tuple[str, str],
        gender: str,
        birth: date,
        given: tuple[str, str] | None = None,
        child: bool = False,
    ) -> Person:
        rng = self.rng
        given = given or self._given(gender, birth)
        person = Person(
            pid=self.next_pid,
            surname=surname[0],
            surname_kana=surname[1],
            given=given[0],
            given_kana=given[1],
            gender=gender,
            birth=birth,
            household=household,
        )
        self.next_pid += 1
        adult_now = not person.is_minor(self.as_of)
        person.records = self._records(child)
        if adult_now:
            has_mobile = 0.97 if birth.year >= 1960 else 0.70
            person.mobile = self._mobile() if rng.random() < has_mobile else ""
            has_email = 0.92 if birth.year >= 1960 else 0.55
            if rng.random() < has_email:
                first = self._email(person)
                person.emails.append((FIRST_YEAR, first))
                if first.split("@")[1] in vocab.CARRIER_DOMAINS and rng.random() < 0.35:
                    # a carrier address is lost when the person changes carrier (MNP keeps the number)
                    person.emails.append((rng.randint(2012, 2025), self._email(person)))
            if rng.random() < 0.30:
                person.card = self._card()
        return person

    def _household(self) -> Household:
        address = self._address()
        rng = self.rng
        landline = self._landline(address.prefecture) if rng.random() < 0.45 else ""
        household = Household(homes=[Home(FIRST_YEAR, address, landline)])
        if landline and rng.random() < 0.06:
            household.fax = self._landline(address.prefecture)
        if rng.random() < 0.15:  # moved once while the company held their data
            new = self._address()
            new_line = self._landline(new.prefecture) if landline and rng.random() < 0.8 else ""
            household.homes.append(Home(rng.randint(2006, 2025), new, new_line))
        return household

    def unit(self) -> list[Person]:
        """One household, sometimes with its namesake or neighbour household (the hard non-matches)."""
        rng = self.rng
        r = rng.random()
        household = self._household()
        if r < 0.30:
            people = self._single(household)
        elif r < 0.50:
            people = self._couple(household)
        else:
            people = self._family(household)
        if household.homes[1:]:
            for person in people:
                person.cases.append("case:moved")
        extra: list[Person] = []
        common = {s for s, _ in self.tables.common_surnames}
        if rng.random() < 0.012:
            twins = [p for p in people if p.surname in common and p.records]
            if twins:
                extra = self._namesake(rng.choice(twins))
        elif rng.random() < 0.012:
            neighbours = self._neighbours(household)
            for person in people + neighbours:
                person.cases.append("case:neighbour")
            extra = neighbours
        return people + extra

    def _single(self, household: Household) -> list[Person]:
        rng = self.rng
        birth = self._birth(1938, 2007) if rng.random() < 0.9 else self._birth(1930, 1950)
        gender = rng.choice("MF")
        surname = self.tables.surnames.pick(rng)
        person = self.person(household, surname=(surname[0], surname[1]), gender=gender, birth=birth)
        if gender == "F" and birth.year < 1995 and rng.random() < 0.15:
            self._married(person, rng.randint(max(birth.year + 22, 2002), 2025))
        return [person]

    def _married(self, wife: Person, year: int) -> None:
        """Records from before `year` carry her maiden name and her parents' address."""
        maiden = self.tables.surnames.pick(self.rng)
        while maiden[0] == wife.surname:
            maiden = self.tables.surnames.pick(self.rng)
        wife.maiden = (maiden[0], maiden[1], year, self._address())
        wife.cases.append("case:marriage")

    def _couple(self, household: Household, births: tuple[date, date] | None = None) -> list[Person]:
        rng = self.rng
        if births is None:
            husband_birth = self._birth(1940, 2003)
            wife_birth = husband_birth + timedelta(days=int(rng.gauss(2, 3) * 365))
            wife_birth = min(wife_birth, date(2006, 12, 31))
        else:
            husband_birth, wife_birth = births
        surname = self.tables.surnames.pick(rng)
        husband = self.person(household, surname=(surname[0], surname[1]), gender="M", birth=husband_birth)
        wife = self.person(household, surname=(surname[0], surname[1]), gender="F", birth=wife_birth)
        if rng.random() < 0.35:
            self._married(wife, max(min(wife_birth.year + rng.randint(23, 35), 2025), 2001))
        people = [husband, wife]
        if rng.random() < 0.15:  # one address for the family, used by both
            household.family_email = self._email(husband)
            for person in people:
                person.emails = [(FIRST_YEAR, household.family_email)]
                person.cases.append("case:shared_email")
        if rng.random() < 0.04 and husband.card:
            wife.card = husband.card  # family card
            wife.cases.append("case:shared_card")
            husband.cases.append("case:shared_card")
        for person in people:
            person.cases.append("case:spouse")
            if rng.random() < 0.2:
                person.records = 0  # not everyone's data leaked
        return people

    def _family(self, household: Household) -> list[Person]:
        rng = self.rng
        mother_birth = self._birth(1966, 1998)
        father_birth = mother_birth - timedelta(days=int(rng.gauss(2, 2) * 365))
        father, mother = self._couple(household, births=(father_birth, mother_birth))
        surname = (father.surname, father.surname_kana)
        guardian = mother if rng.random() < 0.85 else father
        # the registering parent's own data leaked in 6 of 10 families, the other's in 4 of 10
        guardian.records = 0 if rng.random() < 0.4 else max(guardian.records, 1)
        other = father if guardian is mother else mother
        other.records = 0 if rng.random() < 0.6 else max(other.records, 1)
        children: list[Person] = []
        count = rng.choices((1, 2, 3, 4), weights=(35, 45, 17, 3))[0]
        born = date(mother_birth.year + rng.randint(22, 36), rng.randint(1, 12), rng.randint(1, 28))
        sons = 0
        for i in range(count):
            if born > self.as_of - timedelta(days=30):
                break
            gender = rng.choice("MF")
            given = None
            if gender == "M" and sons == 0 and rng.random() < 0.04:
                spellings = self.tables.given_by_reading.get(("M", father.given_kana), ())
                others = [s for s in spellings if s != father.given]
                given = (rng.choice(others) if others else father.given, father.given_kana)
            child = self.person(
                household, surname=surname, gender=gender, birth=born, given=given, child=True
            )
            if given is not None:
                child.cases.append("case:same_reading_parent")
                father.cases.append("case:same_reading_parent")
            sons += gender == "M"
            child.guardian = guardian
            child.relationship = (
                ("長男", "次男", "三男", "四男")[min(i, 3)]
                if gender == "M"
                else ("長女", "次女", "三女", "四女")[min(i, 3)]
            )
            if born.year >= 2003 and rng.random() < 0.12:
                child.expected = born + timedelta(days=int(rng.gauss(0, 8)))
                child.cases.append("case:prebirth")
            children.append(child)
            if rng.random() < 0.025:  # twins: same birth date and contacts, different given names
                twin_gender = rng.choice("MF")
                twin = self.person(household, surname=surname, gender=twin_gender, birth=born, child=True)
                while twin.given_kana == child.given_kana:
                    twin.given, twin.given_kana = self._given(twin_gender, born)
                twin.guardian, twin.relationship = guardian, child.relationship
                twin.cases.append("case:twin")
                child.cases.append("case:twin")
                if child.expected:
                    # one sign-up before the birth of twins cannot be said to be either twin's: none is made
                    child.expected = None
                    child.cases.remove("case:prebirth")
                children.append(twin)
            born = born + timedelta(days=rng.randint(500, 2000))
        if rng.random() < 0.012:
            # expecting now: the child exists only as a pre-birth registration
            due = self.as_of + timedelta(days=rng.randint(10, 200))
            unborn = self.person(household, surname=surname, gender=rng.choice("MF"), birth=due, child=True)
            unborn.guardian, unborn.relationship, unborn.expected = guardian, "子", due
            unborn.cases += ["case:prebirth", "case:unborn"]
            children.append(unborn)
        if mother.maiden:
            # she married at 24-30 and before the first child; her maiden rows predate that
            s, k, _, address = mother.maiden
            married = min(mother_birth.year + rng.randint(24, 30), 2025)
            if children:
                married = min(married, min(child.birth.year for child in children))
            mother.maiden = (s, k, max(2001, married), address)
        if len(children) > 1:
            for child in children:
                child.cases.append("case:sibling")
        for child in children:
            child.cases.append("case:child")
        people = [father, mother, *children]
        if rng.random() < 0.05:
            old = self._birth(1932, 1952)
            grand = self.person(household, surname=surname, gender=rng.choice("MF"), birth=old)
            grand.cases.append("case:grandparent")
            people.append(grand)
        return people

    def _namesake(self, original: Person) -> list[Person]:
        """Another person elsewhere with the same written name, reading and birth date."""
        household = self._household()
        twin = self.person(
            household,
            surname=(original.surname, original.surname_kana),
            gender=original.gender,
            birth=original.birth,
            given=(original.given, original.given_kana),
            child=original.guardian is not None,
        )
        people = [twin]
        if original.guardian is not None:
            parent = self.person(
                household,
                surname=(original.surname, original.surname_kana),
                gender=original.guardian.gender,
                birth=original.guardian.birth + timedelta(days=self.rng.randint(-2000, 2000)),
            )
            twin.guardian, twin.relationship = parent, original.relationship
            people.append(parent)
        original.cases.append("case:namesake")
        twin.cases.append("case:namesake")
        return people

    def _neighbours(self, household: Household) -> list[Person]:
        """A household in the same building (another room) or the house next door."""
        home = household.homes[-1]
        neighbour = Household(homes=[Home(FIRST_YEAR, self._address(near=home.address), "")])
        if self.rng.random() < 0.4:
            neighbour.homes[0].landline = self._landline(home.address.prefecture)
        return self._single(neighbour) if self.rng.random() < 0.5 else self._couple(neighbour)
