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

from typing import Any

NAME_EXACT = '"name_key_l" = "name_key_r"'
NAME_SAME = f'({NAME_EXACT} OR "name_fold_l" = "name_fold_r" OR "kana_key_l" = "kana_key_r")'
# A new surname after marriage keeps the given name: one side's given name (reading or kanji, two
# characters or more) ends the other side's full name, which starts differently.
_GIVEN_ENDS = (
    '(length("given_{kind}_{a}") >= 2 AND ends_with("{full}_{b}", "given_{kind}_{a}")'
    ' AND NOT starts_with("{full}_{b}", "family_{kind}_{a}"))'
)
MARRIED = (
    "("
    + " OR ".join(
        _GIVEN_ENDS.format(kind=kind, full=full, a=a, b=b)
        for kind, full in (("kana", "kana_key"), ("name", "name_key"))
        for a, b in (("l", "r"), ("r", "l"))
    )
    + ")"
)
# A typo in the reading. Compared on the given name where both readings are split: on the full name a
# shared surname is a long common prefix, which Jaro-Winkler rewards, and siblings would look alike.
READING_TYPO = (
    '(CASE WHEN "given_romaji_l" IS NOT NULL AND "given_romaji_r" IS NOT NULL'
    ' THEN "family_kana_l" = "family_kana_r"'
    ' AND jaro_winkler_similarity("given_romaji_l", "given_romaji_r") >= 0.92'
    ' ELSE jaro_winkler_similarity("kana_romaji_l", "kana_romaji_r") >= 0.95 END)'
)
NAME_NEAR = f"({READING_TYPO} OR {MARRIED})"

DOB_EXACT = '"dob_l" = "dob_r"'
DOB_SWAP = (
    '(substr("dob_l", 1, 4) = substr("dob_r", 1, 4) AND substr("dob_l", 6, 2) = substr("dob_r", 9, 2)'
    ' AND substr("dob_l", 9, 2) = substr("dob_r", 6, 2))'
)
DOB_NEAR = f'({DOB_SWAP} OR damerau_levenshtein("dob_l", "dob_r") <= 1)'
DOB_MISSING = '("dob_l" IS NULL OR "dob_r" IS NULL)'
# The gate: the person's own identity agrees (or is at least not contradicted).
PERSON_CONSISTENT = f"(({NAME_SAME} OR {NAME_NEAR}) AND ({DOB_EXACT} OR {DOB_NEAR} OR {DOB_MISSING}))"
CONTACT_ANY = '("phone_l" = "phone_r" OR "email_l" = "email_r" OR "address_key_l" = "address_key_r")'


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
    # coalesce: with a missing field the test is NULL, and NOT NULL would skip this gate.
    return _level(f"NOT coalesce({PERSON_CONSISTENT}, false)", label, 0.5, fixed_u=0.5)


PERSON = {
    "output_column_name": "person",
    "comparison_description": "own name, reading and birth date",
    "comparison_levels": [
        _level('"name_key_l" IS NULL OR "name_key_r" IS NULL', "name missing", 0, null=True),
        _level(f"{NAME_EXACT} AND {DOB_EXACT}", "same name, same birth date", 0.70),
        _level(f"{NAME_SAME} AND {DOB_EXACT}", "same name (variant kanji or reading), same birth date", 0.12),
        _level(f"{NAME_SAME} AND {DOB_NEAR}", "same name, birth date with a typo", 0.04),
        _level(f"{NAME_SAME} AND {DOB_MISSING}", "same name, birth date missing", 0.06),
        _level(f"{NAME_NEAR} AND ({DOB_EXACT} OR {DOB_NEAR})", "similar name, same birth date", 0.05),
        _level(f"{NAME_NEAR} AND {DOB_MISSING}", "similar name, birth date missing", 0.01),
        _level(f"{NAME_SAME} OR {NAME_NEAR}", "same name, different birth date", 0.005),
        _level("ELSE", "different names", 0.015),
    ],
}

CONTACT = {
    "output_column_name": "contact",
    "comparison_description": "phone, e-mail, address (household evidence, gated)",
    "comparison_levels": [
        _level(
            '("phone_l" IS NULL OR "phone_r" IS NULL) AND ("email_l" IS NULL OR "email_r" IS NULL)'
            ' AND ("address_key_l" IS NULL OR "address_key_r" IS NULL)'
            ' AND ("postal_l" IS NULL OR "postal_r" IS NULL)',
            "no contact data to compare",
            0,
            null=True,
        ),
        _neutral("shared contact, but the people differ"),
        _level(CONTACT_ANY, "same phone, e-mail or address", 0.80),
        _level('"postal_l" = "postal_r"', "same postal code", 0.09),
        _level('"prefecture_l" = "prefecture_r"', "same prefecture, nothing else shared", 0.109),
        # Moving to another prefecture while changing phone and e-mail is rare; namesakes look like this.
        _level("ELSE", "different prefecture, nothing shared", 0.001),
    ],
}

GUARDIAN = {
    "output_column_name": "guardian",
    "comparison_description": "guardian's name (children; gated)",
    "comparison_levels": [
        _level(
            '"guardian_fold_l" IS NULL OR "guardian_fold_r" IS NULL', "no guardian on one side", 0, null=True
        ),
        _neutral("same guardian, but the people differ"),
        _level(
            '"guardian_fold_l" = "guardian_fold_r" OR "guardian_kana_l" = "guardian_kana_r"',
            "same guardian",
            0.92,
        ),
        _level("ELSE", "different guardian", 0.08),
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
    'l."kana_key" = r."kana_key" AND l."postal" = r."postal"',
    'l."kana_key" = r."kana_key" AND l."guardian_fold" = r."guardian_fold"',
    'l."given_kana" = r."given_kana" AND l."dob" = r."dob"',
    'l."dob" = r."dob" AND l."phone" = r."phone"',
    'l."dob" = r."dob" AND l."email" = r."email"',
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
    ("person", "similar name, same birth date"): 1e-6,
    ("person", "same name, birth date missing"): 1e-5,
    ("person", "similar name, birth date missing"): 1e-5,
    # Conditional on the person's own identity agreeing (the gate), among different people.
    ("contact", "same phone, e-mail or address"): 1e-3,
    ("contact", "same postal code"): 1e-2,
    ("guardian", "same guardian"): 1e-3,
}


def adjust_u(model: dict[str, Any]) -> dict[str, Any]:
    """Make a trained model's u right for the gated comparisons, then apply U_CAPS.

    Random pairs mostly fall into a gated comparison's neutral level, so the u Splink estimates for the
    other levels are joint chances (gate passed AND level). Their m are conditional on the gate, so the
    u must be too: scale them to sum to one.
    """
    for comparison in model["comparisons"]:
        levels = comparison["comparison_levels"]
        if any(level.get("label_for_charts", "").startswith(NEUTRAL_PREFIX) for level in levels):
            gated = [
                level
                for level in levels
                if not level.get("is_null_level")
                and not level.get("label_for_charts", "").startswith(NEUTRAL_PREFIX)
                and level.get("u_probability")
            ]
            total = sum(level["u_probability"] for level in gated)
            for level in gated:
                level["u_probability"] /= total
        for level in levels:
            if level.get("is_null_level"):
                continue
            cap = U_CAPS.get((comparison["output_column_name"], level.get("label_for_charts", "")))
            u = level.get("u_probability")
            if u is None:  # never seen among the sampled pairs: rarer than one in the sample
                level["u_probability"] = cap if cap is not None else UNSEEN_U
            elif cap is not None:
                level["u_probability"] = min(u, cap)
    return model


def settings(*, prior: float) -> dict[str, Any]:
    return {
        "link_type": "dedupe_only",
        "unique_id_column_name": "unique_id",
        "probability_two_random_records_match": prior,
        "comparisons": [PERSON, CONTACT, GUARDIAN, GENDER],
        "blocking_rules_to_generate_predictions": [{"blocking_rule": rule} for rule in BLOCKING_RULES],
        "retain_matching_columns": False,
        "retain_intermediate_calculation_columns": False,
    }
