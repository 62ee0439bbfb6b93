"""The Splink model for "same person?" (DESIGN.md §4.2), written out so every weight can be explained.

Person identity rests on the person's own name, reading and birth date. Household members share phone
numbers, e-mail, addresses and guardians, so those items only count *when the person's own identity is
already consistent*; otherwise they fall into a neutral level (m = u, weight 0). Without that gate,
siblings, twins and a father and son with the same reading merge wholesale.

m probabilities (how often a level occurs between two records of the same person) are fixed here from
what exports look like: typos, variant kanji, moves, missing fields. u probabilities (how often a level
occurs between two different people) depend on the population and are estimated from each incident's
own data by random sampling. Pairs in the uncertain band go to human review, not to automatic merging:
sending one person's data to a stranger is worse than a second letter.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from owabi.records.majority import minor_cutoff
from owabi.records.normalize import PLAIN_KANA, VOICED_KANA


# Three-valued logic: a test on a missing field is NULL, which is neither true nor false. These turn a
# test into a plain boolean (NULL counts as false). They are CASE expressions, not coalesce(…) or NOT:
# DuckDB short-circuits AND/OR only where they decide a CASE branch or a filter, and evaluates every
# part of them for every pair inside a function. The gates below wrapped in coalesce cost six times as
# much, and the random-pair sample for u (millions of pairs) was most of resolve's scoring time.
def _true(test: str) -> str:
    return f"(CASE WHEN {test} THEN true ELSE false END)"


def _not_true(test: str) -> str:
    return f"(CASE WHEN {test} THEN false ELSE true END)"


NAME_EXACT = '"name_key_l" = "name_key_r"'
# The written name, exactly or with variant kanji folded (髙/高).
NAME_KANJI = f'({NAME_EXACT} OR "name_fold_l" = "name_fold_r")'
# ... or only the reading: one row's kanji may be an input-method slip (絵里 for 恵理), but homophone given
# names are common (航 / 渉 are both ワタル), so the reading alone is much weaker evidence.
NAME_SAME = f'({NAME_KANJI} OR "kana_key_l" = "kana_key_r")'
# A new surname after marriage keeps the given name: one side's given name (reading or kanji, two
# characters or more) ends the other side's full name, which starts differently. Where the other side's
# name is split too, its given name must be that same given name: a mother ユミ and a daughter アユミ
# (or ミユミ) only share an ending.
_GIVEN_ENDS = (
    '(length("given_{kind}_{a}") >= 2 AND ends_with("{full}_{b}", "given_{kind}_{a}")'
    ' AND NOT starts_with("{full}_{b}", "family_{kind}_{a}")'
    ' AND ("given_{kind}_{b}" IS NULL OR "given_{kind}_{b}" = "given_{kind}_{a}"))'
)
# Where both names are split, a one-character given name (誠, 萌) counts too: the whole given name agrees.
_GIVEN_SAME = (
    '("given_name_l" = "given_name_r" AND "family_name_l" <> "family_name_r"'
    ' AND NOT starts_with("name_key_l", "family_name_r") AND NOT starts_with("name_key_r", "family_name_l"))'
)
# Where neither name is split (no space in either export), the last two characters agree and the first
# differs (田中陽菜 / 本間陽菜). Two characters: most given names have two, and a one-character ending
# alone (子, 美) is common to strangers.
_UNSPLIT_ENDS = (
    '("given_name_l" IS NULL AND "given_name_r" IS NULL'
    ' AND length("name_key_l") >= 3 AND length("name_key_r") >= 3'
    ' AND right("name_key_l", 2) = right("name_key_r", 2) AND left("name_key_l", 1) <> left("name_key_r", 1))'
)
MARRIED = (
    "("
    + " OR ".join(
        [
            *(
                _GIVEN_ENDS.format(kind=kind, full=full, a=a, b=b)
                for kind, full in (("kana", "kana_key"), ("name", "name_key"))
                for a, b in (("l", "r"), ("r", "l"))
            ),
            _GIVEN_SAME,
            _UNSPLIT_ENDS,
        ]
    )
    + ")"
)
# A typo in the reading, compared on the given name where both readings are split. Where one is not,
# nothing is compared: on the full reading a shared surname is a long common prefix, which Jaro-Winkler
# rewards, so twins and siblings (タカハラナナミ / タカハラアンナ) would look like one person with a typo.
READING_TYPO = (
    '("given_romaji_l" IS NOT NULL AND "given_romaji_r" IS NOT NULL'
    ' AND "family_kana_l" = "family_kana_r"'
    ' AND jaro_winkler_similarity("given_romaji_l", "given_romaji_r") >= 0.92)'
)
# The whole reading agrees once voiced and semi-voiced marks are folded (サグライ / サクライ, ハシモト /
# バシモト): a mark missed or added when keying or converting, common in kana typed by hand. Only the
# marks: any other one-kana difference is what twins' and siblings' names look like (ユウト / ユウマ,
# ナナミ / ナナエ), and they share a surname, a home and, for twins, a birth date. Small kana are folded
# in the key already (キョウコ / キヨウコ).
# The folded reading is a column of its own (DERIVED_COLUMNS), made once per row: translate() per pair
# made scoring six times slower (it runs on every random pair sampled for u, in several gates).
# Only when one of the two names is written in kana alone (the hand-typed slip this is for): between
# two names written in kanji a voiced mark is another name, as brothers' and twins' are (健 ケン / 玄
# ゲン, 泰輝 タイキ / 大輝 ダイキ; tests/test_resolve_near.py).
READING_VOICING = (
    '("kana_key_l" <> "kana_key_r" AND "kana_plain_l" = "kana_plain_r"'
    ' AND (NOT "name_kanji_l" OR NOT "name_kanji_r"))'
)
# Kana that are part of names written in kanji (木ノ下, 一ノ瀬, 八ヶ岳, 霞ケ浦, 木の下): not a sign that the
# name was spelled in kana.
KANA_IN_KANJI_NAMES = "ノヶヵのケ"
# Columns resolve.scoring.features_frame adds to the features, computed from them, for the SQL above.
DERIVED_COLUMNS = (
    f"translate(\"kana_key\", '{VOICED_KANA}', '{PLAIN_KANA}') AS \"kana_plain\"",
    'regexp_matches("name_key", \'\\p{Han}\') AS "name_kanji"',
    f"regexp_matches(regexp_replace(\"name_key\", '[{KANA_IN_KANJI_NAMES}]', '', 'g'), '[ぁ-ゖァ-ヺ]')"
    ' AS "name_has_kana"',
)
# The reading agrees and one of the two written names is spelled (wholly or partly) in kana: a web form
# typed without converting, a legacy system that held kana only (さくらい みき / 櫻井 美紀). The kanji
# of such a name are not known, so they cannot disagree: the reading is all there is to compare.
KANA_SPELLED = '(("name_has_kana_l" OR "name_has_kana_r") AND "kana_key_l" = "kana_key_r")'
NAME_NEAR = f"({READING_TYPO} OR {READING_VOICING} OR {MARRIED})"

DOB_EXACT = '"dob_l" = "dob_r"'
DOB_SWAP = (
    '(substr("dob_l", 1, 4) = substr("dob_r", 1, 4) AND substr("dob_l", 6, 2) = substr("dob_r", 9, 2)'
    ' AND substr("dob_l", 9, 2) = substr("dob_r", 6, 2))'
)
# One edit apart (Damerau-Levenshtein <= 1). Birth dates are ISO dates of one length, so that is one
# substituted digit (Hamming distance 1) or two adjacent ones swapped; Hamming first, as the full
# distance costs eight times as much and is needed only where exactly two positions differ.
DOB_NEAR = (
    f'({DOB_SWAP} OR hamming("dob_l", "dob_r") <= 1'
    ' OR (hamming("dob_l", "dob_r") = 2 AND damerau_levenshtein("dob_l", "dob_r") <= 1))'
)
DOB_MISSING = '("dob_l" IS NULL OR "dob_r" IS NULL)'
# Close, though more than one edit apart: a few days (11/29 / 11/30, 12/31 / 1/1: a day keyed from a
# neighbouring form field or a certificate's date), or one field off by one (2015/9/10 / 2015/10/10,
# 1989 / 1990 with month and day agreeing), or a 和暦 year keyed in the neighbouring era (令和3年 written
# for 平成3年: 2021 / 1991; the eras' first years lie 14, 63 and 30 years apart: 大正/昭和, 昭和/平成,
# 平成/令和), month and day agreeing. Only with the same name: siblings are born at least about
# ten months apart and have their own names, a same-named father and son decades apart.
# A 和暦 year keyed in the neighbouring era: (years apart, the earlier year's first and last), where one
# era-year number exists in both eras: 大正N / 昭和N (N 1-15), 昭和N / 平成N (N 1-31), 平成N / 令和N
# (N 1-30). Other gaps of those sizes are no slip (昭和36 / 平成3, 1961 / 1991, are two numbers).
ERA_SLIPS = ((14, 1912, 1926), (63, 1926, 1956), (30, 1989, 2018))
_YEAR_L = 'CAST(left("dob_l", 4) AS INTEGER)'
_YEAR_R = 'CAST(left("dob_r", 4) AS INTEGER)'
_ERA_SLIP = " OR ".join(
    f"(abs({_YEAR_L} - {_YEAR_R}) = {gap} AND least({_YEAR_L}, {_YEAR_R}) BETWEEN {first} AND {last})"
    for gap, first, last in ERA_SLIPS
)
DOB_CLOSE = (
    '(abs(datediff(\'day\', CAST("dob_l" AS DATE), CAST("dob_r" AS DATE))) <= 3'
    ' OR (left("dob_l", 4) = left("dob_r", 4) AND right("dob_l", 2) = right("dob_r", 2)'
    ' AND abs(CAST(substr("dob_l", 6, 2) AS INTEGER) - CAST(substr("dob_r", 6, 2) AS INTEGER)) = 1)'
    ' OR (substr("dob_l", 5) = substr("dob_r", 5)'
    f" AND (abs({_YEAR_L} - {_YEAR_R}) = 1 OR {_ERA_SLIP})))"
)


def dob_near(a: str, b: str) -> bool:
    """DOB_EXACT or DOB_NEAR for two ISO birth dates, in Python (for rules that run after scoring): the
    same date, month and day swapped, or one edit apart. tests/test_resolve_model holds it to the SQL."""
    if a == b or (a[:4] == b[:4] and a[5:7] == b[8:10] and a[8:10] == b[5:7]):
        return True
    differ = [i for i, (x, y) in enumerate(zip(a, b, strict=True)) if x != y]
    if len(differ) == 2:
        i, j = differ
        return j == i + 1 and a[i] == b[j] and a[j] == b[i]
    return len(differ) <= 1


def dob_close(a: str, b: str) -> bool:
    """Two ISO birth dates one person's rows can give: DOB_EXACT, DOB_NEAR or DOB_CLOSE, in Python.
    tests/test_resolve_model holds it to the SQL."""
    if dob_near(a, b):
        return True
    if abs(date.fromisoformat(a) - date.fromisoformat(b)).days <= 3:
        return True
    if a[:4] == b[:4] and a[8:] == b[8:] and abs(int(a[5:7]) - int(b[5:7])) == 1:
        return True
    if a[4:] != b[4:]:
        return False
    gap, earlier = abs(int(a[:4]) - int(b[:4])), min(int(a[:4]), int(b[:4]))
    return gap == 1 or any(gap == g and first <= earlier <= last for g, first, last in ERA_SLIPS)


# The gate: the person's own identity agrees (or is at least not contradicted).
# A close birth date (DOB_CLOSE) is consistent only with the same name.
PERSON_CONSISTENT = (
    f"((({NAME_SAME} OR {NAME_NEAR}) AND ({DOB_EXACT} OR {DOB_NEAR} OR {DOB_MISSING}))"
    f" OR ({NAME_SAME} AND {DOB_CLOSE}))"
)
CONTACT_HOME = '("phone_l" = "phone_r" OR "address_key_l" = "address_key_r")'
CONTACT_ANY = f'({CONTACT_HOME} OR "email_l" = "email_r" OR "card_last4_l" = "card_last4_r")'
SHARED_CONTACT = "same phone, e-mail, address or card"
# Rows that share nothing themselves but belong to one household: a chain of shared phones, e-mail
# addresses and street addresses joins them (resolve.households). A family that moved has a child's rows
# at the old home and the father's at the new one; his mobile is on both.
SAME_HOUSEHOLD = "nothing shared directly, one household through other rows (a move)"

# Who registered a row: a guardian (a child's row, which names the guardian and gives the guardian's
# phone, e-mail and address) or the person themself (an own row, no guardian named).
_CHILD_ROW = '("guardian_fold_{s}" IS NOT NULL OR "guardian_kana_{s}" IS NOT NULL)'
_OWN_ROW = '("guardian_fold_{s}" IS NULL AND "guardian_kana_{s}" IS NULL)'
CHILD_AND_OWN_ROW = "(({cl} AND {or_}) OR ({cr} AND {ol}))".format(
    cl=_CHILD_ROW.format(s="l"),
    cr=_CHILD_ROW.format(s="r"),
    ol=_OWN_ROW.format(s="l"),
    or_=_OWN_ROW.format(s="r"),
)
# One row names the other row's person as its guardian: a parent and a child named alike (一郎 / 一朗,
# 愛 / 藍). A row whose own name is its guardian's name (a son 誠 of a father 誠) says nothing here.
_NAMES_AS_GUARDIAN = (
    '(("guardian_fold_{a}" = "name_fold_{b}" AND "guardian_fold_{a}" <> "name_fold_{a}")'
    ' OR ("guardian_kana_{a}" = "kana_key_{b}" AND "guardian_kana_{a}" <> "kana_key_{a}"))'
)
NAMES_OTHER_AS_GUARDIAN = "({} OR {})".format(
    _true(_NAMES_AS_GUARDIAN.format(a="l", b="r")), _true(_NAMES_AS_GUARDIAN.format(a="r", b="l"))
)


def minor_and_undated_own_row(cutoff: str) -> str:
    """A minor's row (a guardian named, born after `cutoff`: majority.minor_cutoff) against an
    own row with no birth date. Such an own row is an adult's registration: the parent of the same name."""
    minor = "({child} AND \"dob_{s}\" > '{cutoff}')"
    undated = '({own} AND "dob_{s}" IS NULL)'
    return "(({ml} AND {ur}) OR ({mr} AND {ul}))".format(
        ml=minor.format(child=_CHILD_ROW.format(s="l"), s="l", cutoff=cutoff),
        mr=minor.format(child=_CHILD_ROW.format(s="r"), s="r", cutoff=cutoff),
        ul=undated.format(own=_OWN_ROW.format(s="l"), s="l"),
        ur=undated.format(own=_OWN_ROW.format(s="r"), s="r"),
    )


def _level(
    sql: str, label: str, m: float, *, null: bool = False, fixed_u: float | None = None
) -> dict[str, Any]:
    level: dict[str, Any] = {"sql_condition": sql, "label_for_charts": label}
    if null:
        level["is_null_level"] = True
        return level
    level["m_probability"] = m
    level["fix_m_probability"] = True
    if fixed_u is not None:
        level["u_probability"] = fixed_u
        level["fix_u_probability"] = True
    return level


NEUTRAL_PREFIX = "gate: "


def _neutral(label: str) -> dict[str, Any]:
    """Household evidence between records whose own identities disagree: weighs nothing either way."""
    label = NEUTRAL_PREFIX + label
    # With a missing field the test is NULL, and NOT NULL would skip this gate: _not_true.
    return _level(_not_true(PERSON_CONSISTENT), label, 0.5, fixed_u=0.5)


DOB_CLOSE_LABEL = "same name, birth date a few days or one field apart"
KANA_SPELLED_LABEL = "same reading, one name written in kana, birth date missing"
READING_UNDATED_LABEL = "same reading, other kanji, neither birth date"

PERSON = {
    "output_column_name": "person",
    "comparison_description": "own name, reading and birth date",
    "comparison_levels": [
        _level('"name_key_l" IS NULL OR "name_key_r" IS NULL', "name missing", 0, null=True),
        _level(f"{NAME_EXACT} AND {DOB_EXACT}", "same name, same birth date", 0.70),
        _level(f"{NAME_SAME} AND {DOB_EXACT}", "same name (variant kanji or reading), same birth date", 0.12),
        _level(f"{NAME_SAME} AND {DOB_NEAR}", "same name, birth date with a typo", 0.04),
        # About one pair of a person's rows in 300: a date keyed a day or a field off (DOB_CLOSE), taken
        # from the pairs that had fallen into "different birth date".
        _level(f"{NAME_SAME} AND {DOB_CLOSE}", DOB_CLOSE_LABEL, 0.003),
        _level(f"{NAME_KANJI} AND {DOB_MISSING}", "same name, birth date missing", 0.0594),
        # The same, for a name in kana against the reading of the other: a row in kana (about 1 in 30)
        # times the 6 % with a birth date missing. Its u is capped at a tenth of that level's, so it
        # weighs a little less (readings coincide more often than written names: homophones).
        _level(f"{KANA_SPELLED} AND {DOB_MISSING}", KANA_SPELLED_LABEL, 0.002),
        # Neither row dated: nothing but the kanji tells a slip of one person from two people of one home
        # read alike, as fathers and sons often are (木ノ下 健 / 木下 賢, both キノシタ ケン). One slip
        # (1 in 100) times both dates missing (0.4 %); the floor on u keeps this about +2 bits, so with a
        # shared home the pair goes to review rather than joining: a reviewer reads the rows.
        _level(f'{NAME_SAME} AND "dob_l" IS NULL AND "dob_r" IS NULL', READING_UNDATED_LABEL, 0.00004),
        # An input-method slip in one of the two rows (about 1 in 100) times the 6 % of pairs with a birth
        # date missing. With the same birth date the kanji matter less: that level keeps both.
        _level(f"{NAME_SAME} AND {DOB_MISSING}", "same reading, other kanji, birth date missing", 0.0006),
        _level(f"{NAME_NEAR} AND ({DOB_EXACT} OR {DOB_NEAR})", "similar name, same birth date", 0.05),
        _level(f"{NAME_NEAR} AND {DOB_MISSING}", "similar name, birth date missing", 0.01),
        _level(f"{NAME_SAME} OR {NAME_NEAR}", "same name, different birth date", 0.002),
        _level("ELSE", "different names", 0.015),
    ],
}

CONTACT = {
    "output_column_name": "contact",
    "comparison_description": "phone, e-mail, address, card (household evidence, gated)",
    "comparison_levels": [
        _level(
            '("phone_l" IS NULL OR "phone_r" IS NULL) AND ("email_l" IS NULL OR "email_r" IS NULL)'
            ' AND ("address_key_l" IS NULL OR "address_key_r" IS NULL)'
            ' AND ("postal_l" IS NULL OR "postal_r" IS NULL)'
            ' AND ("card_last4_l" IS NULL OR "card_last4_r" IS NULL)',
            "no contact data to compare",
            0,
            null=True,
        ),
        _neutral("shared contact, but the people differ"),
        # Only the given name agrees (a new surname?) and no birth date to compare: too little for an
        # e-mail address or a card to count (common given names; addresses like misaki84@ are made of
        # them). The home's phone or address still counts, and so does everything with a birth date.
        _level(
            f"{_true(NAME_NEAR)} AND {_not_true(NAME_SAME)} AND {DOB_MISSING}"
            f" AND {_not_true(CONTACT_HOME)} AND {CONTACT_ANY}",
            NEUTRAL_PREFIX + "only the given name agrees, no birth date, only an e-mail or card shared",
            0.5,
            fixed_u=0.5,
        ),
        # The same for a name in kana matched through its reading alone, without a birth date: one reading
        # is several names (健 / 賢 ケン, a father and his son), and families share an e-mail address
        # and a card; the home's phone or address still counts.
        _level(
            f"{_true(KANA_SPELLED)} AND {_not_true(NAME_KANJI)} AND {DOB_MISSING}"
            f" AND {_not_true(CONTACT_HOME)} AND {CONTACT_ANY}",
            NEUTRAL_PREFIX + "one name in kana, no birth date, only an e-mail or card shared",
            0.5,
            fixed_u=0.5,
        ),
        _level(CONTACT_ANY, SHARED_CONTACT, 0.80),
        # m: about a tenth of a person's pairs of rows share nothing directly (moves, new numbers,
        # missing fields), and for about a fifth of those the household's other rows bridge the move.
        # u: capped like a shared home (SHARED_HOME_PAIRS / n): a household is a handful of people.
        _level('"household_l" = "household_r"', SAME_HOUSEHOLD, 0.02),
        _level('"postal_l" = "postal_r"', "same postal code", 0.09),
        _level('"prefecture_l" = "prefecture_r"', "same prefecture, nothing else shared", 0.109),
        # A child's row carries the guardian's phone, e-mail and address; a grown child's own rows carry
        # their own, and about half of those who register themselves live away from the family home:
        # m = 0.45 (given a child's row against an own row). Strangers share nothing nine times in ten:
        # u = 0.9. About -1 bit, where two own rows sharing nothing across prefectures weigh -10.
        _level(
            CHILD_AND_OWN_ROW,
            "different prefecture, nothing shared, one a child's row (the guardian's contact)",
            0.45,
            fixed_u=0.9,
        ),
        # Moving to another prefecture while changing phone and e-mail is rare; namesakes look like this.
        _level("ELSE", "different prefecture, nothing shared", 0.001),
    ],
}


def _guardian(cutoff: str) -> dict[str, Any]:
    return {
        "output_column_name": "guardian",
        "comparison_description": "guardian's name, and who registered each row (children; gated)",
        "comparison_levels": [
            # m: a slip that puts the person's own name into the guardian column, 1 row in 10,000.
            # u (fixed; random pairs almost never show it): among different people whose identities
            # agree, parents and children named alike are common, and the child's row names that parent
            # whenever that parent registered the child: 0.05. About -9 bits.
            _level(NAMES_OTHER_AS_GUARDIAN, "one row names the other as its guardian", 0.0001, fixed_u=0.05),
            # m: minors' rows come from their guardians; the same minor on an own row with neither a
            # guardian nor a birth date is about 1 pair in 1,000. u is estimated (gated), with a floor.
            _level(
                f"{_true(PERSON_CONSISTENT)} AND {minor_and_undated_own_row(cutoff)}",
                "a minor's row, and an undated row without a guardian (an adult's)",
                0.001,
            ),
            _level(
                '"guardian_fold_l" IS NULL OR "guardian_fold_r" IS NULL',
                "no guardian on one side",
                0,
                null=True,
            ),
            _neutral("same guardian, but the people differ"),
            _level(
                '"guardian_fold_l" = "guardian_fold_r" OR "guardian_kana_l" = "guardian_kana_r"',
                "same guardian",
                0.92,
            ),
            _level("ELSE", "different guardian", 0.0789),
        ],
    }


GENDER = {
    "output_column_name": "gender",
    "comparison_description": "gender",
    "comparison_levels": [
        _level('"gender_l" IS NULL OR "gender_r" IS NULL', "gender missing", 0, null=True),
        _level('"gender_l" = "gender_r"', "same gender", 0.98),
        _level("ELSE", "different gender", 0.02),
    ],
}

# Each rule keeps comparisons near-linear in the number of records (no rule on a birth date alone).
BLOCKING_RULES = [
    'l."dob" = r."dob" AND substr(l."kana_key", 1, 2) = substr(r."kana_key", 1, 2)',
    'l."dob" = r."dob" AND l."name_fold" = r."name_fold"',
    'l."name_fold" = r."name_fold" AND l."phone" = r."phone"',
    'l."name_fold" = r."name_fold" AND l."email" = r."email"',
    'l."name_fold" = r."name_fold" AND l."address_key" = r."address_key"',
    'l."name_fold" = r."name_fold" AND l."card_last4" = r."card_last4"',
    'l."kana_key" = r."kana_key" AND l."postal" = r."postal"',
    'l."kana_key" = r."kana_key" AND l."guardian_fold" = r."guardian_fold"',
    'l."given_kana" = r."given_kana" AND l."dob" = r."dob"',
    'l."dob" = r."dob" AND l."phone" = r."phone"',
    'l."dob" = r."dob" AND l."email" = r."email"',
    # A married name with no birth date on one side shares nothing above but the given name, which ends
    # the reading, and the household's contact.
    'right(l."kana_key", 2) = right(r."kana_key", 2) AND l."phone" = r."phone"',
    'right(l."kana_key", 2) = right(r."kana_key", 2) AND l."email" = r."email"',
    'right(l."kana_key", 2) = right(r."kana_key", 2) AND l."address_key" = r."address_key"',
    # ... and where a row has no reading, the written name's end (its given name, most often).
    'right(l."name_fold", 2) = right(r."name_fold", 2) AND l."phone" = r."phone"',
    'right(l."name_fold", 2) = right(r."name_fold", 2) AND l."address_key" = r."address_key"',
    'right(l."name_fold", 2) = right(r."name_fold", 2) AND l."dob" = r."dob"',
    # One household (a chain of shared contact through other rows), one name: a move bridged by the family.
    'l."household" = r."household" AND l."name_fold" = r."name_fold"',
]

UNSEEN_U = 1e-6

# Highest plausible u (chance between two different people) for the strongest levels. Random-pair
# sampling draws true duplicates too (about one pair in 3n), which overstates u for exactly these
# levels until the incident is very large. The caps are stranger-coincidence rates: two people share
# a birth date about once in 30,000 pairs and a full name well under once in 10,000.
U_CAPS: dict[tuple[str, str], float] = {
    ("person", "same name, same birth date"): 1e-7,
    ("person", "same name (variant kanji or reading), same birth date"): 1e-7,
    ("person", "same name, birth date with a typo"): 1e-6,
    ("person", DOB_CLOSE_LABEL): 1e-6,
    ("person", "similar name, same birth date"): 1e-6,
    ("person", "same name, birth date missing"): 1e-5,
    ("person", KANA_SPELLED_LABEL): 1e-6,
    ("person", "similar name, birth date missing"): 1e-5,
    # Conditional on the person's own identity agreeing (the gate), among different people.
    ("contact", SHARED_CONTACT): 1e-3,
    ("contact", "same postal code"): 1e-2,
    ("guardian", "same guardian"): 1e-3,
}


# Lowest plausible u for levels that are evidence of two people. Random sampling rarely sees them, and an
# unseen level must not turn into evidence of one person.
U_FLOORS: dict[tuple[str, str], float] = {
    # Readings coincide at least as often as written names (many kanji per reading).
    ("person", "same reading, other kanji, birth date missing"): 1e-5,
    ("person", READING_UNDATED_LABEL): 1e-5,
    ("guardian", "a minor's row, and an undated row without a guardian (an adult's)"): 0.01,
}


# Two different people share a home (phone, address) about 3 times in n pairs of an n-record incident:
# a home holds about three of them. Among people whose own names agree (the gate) relatives under one
# roof are over-represented (a parent and a child named alike), say three times: u <= 10 / n. Unlike
# the fixed caps this falls as the incident grows, as the prior does; without it a shared phone would
# count for less and less against the prior, and at 35M records an undated row could never join.
SHARED_HOME_PAIRS = 10


# How much more often two different people share a name and a birth date than the product of the two
# chances: names follow fashions by birth year, and families reuse names. Generous on purpose.
COHORT_ALLOWANCE = 30.0
# A typo'd birth date is one of ~20 one-edit neighbours; a "similar" name one of ~10 near spellings.
DOB_TYPO_NEIGHBOURS = 20.0
# A close birth date is one of ~10: three days either side, the month and the year one either side.
DOB_CLOSE_NEIGHBOURS = 10.0
NAME_NEAR_NEIGHBOURS = 10.0
# Below this the estimate is noise (a small incident has few repeated names): never claim more.
PERSON_U_FLOOR = 1e-10
_NAME_DOB_LEVELS = (
    ("same name, same birth date", 1.0),
    ("same name (variant kanji or reading), same birth date", 1.0),
    ("same name, birth date with a typo", DOB_TYPO_NEIGHBOURS),
    (DOB_CLOSE_LABEL, DOB_CLOSE_NEIGHBOURS),
    ("similar name, same birth date", NAME_NEAR_NEIGHBOURS),
)


def collision_rate(values: Any) -> float:
    """The chance that two different rows (both filled) of an Arrow column hold the same value."""
    import pyarrow.compute as pc

    present = values.drop_null()
    count = len(present)
    if count < 2:
        return 1.0
    counts = pc.value_counts(present).field("counts")
    same = pc.sum(pc.multiply(counts, pc.subtract(counts, 1))).as_py() or 0
    return float(same) / (count * (count - 1))


def person_caps(table: Any) -> dict[tuple[str, str], float]:
    """u caps for the name-and-birth-date levels from the incident's own frequencies.

    The fixed U_CAPS (1e-7 for the same name and birth date) hold for any incident, but the prior falls
    as 1/n: at a million records that cap left pairs agreeing on name and birth date (and nothing else)
    below the match threshold, and the review queue grew 70-fold. Two strangers share a name with the
    chance that two rows do (sum of squared name frequencies) and a birth date likewise; their product,
    times a cohort allowance (names follow birth-year fashions), bounds the joint chance. Repeats of one
    person inflate both marginals slightly, which errs on the safe side.
    """
    name = collision_rate(table.column("name_key"))
    dob = collision_rate(table.column("dob"))
    caps = {}
    for label, widen in _NAME_DOB_LEVELS:
        estimate = max(PERSON_U_FLOOR, name * dob * COHORT_ALLOWANCE * widen)
        caps[("person", label)] = min(U_CAPS[("person", label)], estimate)
    return caps


def adjust_u(
    model: dict[str, Any], *, records: int, caps: dict[tuple[str, str], float] | None = None
) -> dict[str, Any]:
    """Make a trained model's u right for the gated comparisons, then apply U_CAPS (and the shared-home
    cap for an incident of `records` records, and any incident-derived `caps`, e.g. person_caps).

    Random pairs mostly fall into a gated comparison's neutral level, so the u Splink estimates for the
    other levels are joint chances (gate passed AND level). Their m are conditional on the gate, so the
    u must be too: scale them to sum to one. Levels with a fixed u keep it.
    """
    caps = {**U_CAPS, **(caps or {})}
    for label in (SHARED_CONTACT, SAME_HOUSEHOLD):
        home = ("contact", label)
        caps[home] = min(caps.get(home, 1.0), SHARED_HOME_PAIRS / max(records, 1))
    for comparison in model["comparisons"]:
        levels = comparison["comparison_levels"]
        if any(level.get("label_for_charts", "").startswith(NEUTRAL_PREFIX) for level in levels):
            gated = [
                level
                for level in levels
                if not level.get("is_null_level")
                and not level.get("fix_u_probability")
                and level.get("u_probability")
            ]
            total = sum(level["u_probability"] for level in gated)
            for level in gated:
                level["u_probability"] /= total
        for level in levels:
            if level.get("is_null_level"):
                continue
            cap = caps.get((comparison["output_column_name"], level.get("label_for_charts", "")))
            u = level.get("u_probability")
            if u is None:  # never seen among the sampled pairs: rarer than one in the sample
                level["u_probability"] = cap if cap is not None else UNSEEN_U
            elif cap is not None:
                level["u_probability"] = min(u, cap)
            floor = U_FLOORS.get((comparison["output_column_name"], level.get("label_for_charts", "")))
            if floor is not None:
                level["u_probability"] = max(level["u_probability"], floor)
    return model


def settings(*, prior: float, as_of: date) -> dict[str, Any]:
    """The Splink settings. `as_of` (the notice date) decides which rows are minors'; it ends up in the
    stored model's SQL, so --explain later scores with the same cutoff."""
    return {
        "link_type": "dedupe_only",
        "unique_id_column_name": "unique_id",
        "probability_two_random_records_match": prior,
        "comparisons": [PERSON, CONTACT, _guardian(minor_cutoff(as_of)), GENDER],
        "blocking_rules_to_generate_predictions": [{"blocking_rule": rule} for rule in BLOCKING_RULES],
        "retain_matching_columns": False,
        "retain_intermediate_calculation_columns": False,
    }
