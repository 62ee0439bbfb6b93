"""Classify every resolution error of a benchmark run by cause (synthetic data with ground truth only).

    .venv/bin/python bench/bench_pipeline.py --records 20000        # prints "work dir /tmp/owabi-bench-…"
    .venv/bin/python bench/analyze_errors.py /tmp/owabi-bench-…      [--examples 5] [--database URL]

Reads the run's truth file (person_id, recipient_id, variation tags), its `owabi export clusters` file,
and the records and trained model from the run's database. Every true pair of records the run split
(recall loss) and every pair it put together wrongly (precision loss) is classified:

- subjects, missed pairs: pre-birth row not attached; name missing; never a blocking candidate; scored
  below the review threshold; waiting in the review band; each with its Splink levels and tags.
- subjects, wrong merges: the direct links (p >= MATCH_THRESHOLD) between different people, by how the
  two people are related (twins, siblings, parent/child, household adults, strangers) and by levels.
- recipients, split and merged pairs: caused by the subjects, or lost in the recipient assignment
  (child taken for an adult, guardian names that do not agree, no shared contact, ...).
- split recipients by the evidence between their parts: a phone, e-mail, address or card shared through
  any chain of records, or nothing but names (what no model can join without merging namesakes).

The figures are pair counts (what pairwise precision/recall count) and cluster counts (what the split
and merged rates count). `--examples N` prints N example pairs per cause with their matching features:
meant for synthetic data only.
"""

from __future__ import annotations

import argparse
import csv
import os
import sys
from collections import Counter, defaultdict
from datetime import date
from itertools import combinations
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from owabi.records.majority import is_minor  # noqa: E402

# Tags that describe the formatting only; every real cause shows up with or without them.
FORMAT_TAGS = {
    "dup",
    "date_slash",
    "date_compact",
    "wareki_date",
    "date_kanji",
    "dash_variant",
    "fullwidth_digits",
    "phone_format",
    "email_upper",
    "fullwidth_letters",
    "no_building",
    "no_prefecture",
    "kanji_numerals",
    "hiragana_kana",
    "halfwidth_kana",
    "no_space",
    "fullwidth_space",
    "stray_space",
}


def setup(work: Path, database: str) -> None:
    os.environ["OWABI_DATA_DIR"] = str(work)
    os.environ["DATABASE_URL"] = database or f"sqlite:///{work / 'bench.sqlite3'}"
    os.environ["DJANGO_SETTINGS_MODULE"] = "config.settings"
    import django

    django.setup()


def read_csv(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


def load(work: Path, slug: str) -> dict[str, Any]:
    from owabi.core.fields import open_values
    from owabi.records import features as feature_module
    from owabi.records import normalize
    from owabi.records.models import LeakRecord, ResolveRun

    truth = {row["record_id"]: row for row in read_csv(work / "leak.truth.csv")}
    clusters = {row["record_id"]: row for row in read_csv(work / "clusters.csv")}
    rows: dict[int, dict[str, Any]] = {}
    placeholders: set[int] = set()
    for pk, record_id, sealed in open_values(
        LeakRecord.objects.filter(incident__slug=slug), "pk", "record_id", "sealed", chunk_size=5000
    ):
        row = feature_module.features(pk, sealed)
        row["record_id"] = record_id
        row["pid"] = truth[record_id]["person_id"]
        row["rid"] = truth[record_id]["recipient_id"]
        row["tags"] = {t for t in truth[record_id]["variation"].split(";") if t}
        row["sid"] = clusters[record_id]["subject_id"]
        row["pred_rid"] = clusters[record_id]["recipient_id"]
        row["card_hash"] = sealed.get("card_number_hash") or None
        row["card_last4"] = sealed.get("card_last4") or None
        if feature_module.is_placeholder(sealed):
            row["due"] = feature_module.safe(normalize.date, sealed.get("expected_delivery_date"))
            placeholders.add(pk)
        rows[pk] = row
    run = ResolveRun.objects.filter(incident__slug=slug).order_by("-finished_at", "-pk").first()
    if run is None:
        raise SystemExit("no resolve run in that database")
    return {
        "rows": rows,
        "placeholders": placeholders,
        "model": run.model,
        "as_of": run.finished_at.date(),
    }


def score(rows: dict[int, dict[str, Any]], placeholders: set[int], model: dict[str, Any]) -> dict:
    """Probability, gammas and blocking-candidate flags for every true pair, every predicted pair and
    every blocking candidate."""
    import duckdb
    import pyarrow as pa
    from splink import DuckDBAPI, Linker

    from owabi.records import features as feature_module
    from owabi.records import resolve_model
    from owabi.records.resolve import households

    ordered = list(rows.values())
    contacts = pa.table({c: [row[c] for row in ordered] for c in ("phone", "email", "address_key")})
    for row, household in zip(ordered, households(contacts).tolist(), strict=True):
        row["household"] = household
    scored = [row for pk, row in rows.items() if pk not in placeholders]
    columns = (*feature_module.COLUMNS, "household", "pid", "sid")
    table = pa.table({c: [row[c] for row in scored] for c in columns})
    con = duckdb.connect(":memory:")
    con.execute("SET threads TO 2")
    con.register("features_arrow", table)
    derived = ", ".join(resolve_model.DERIVED_COLUMNS)  # the columns the model's SQL reads besides these
    con.execute(f"CREATE TABLE features AS SELECT *, {derived} FROM features_arrow")  # noqa: S608
    con.unregister("features_arrow")
    frame = DuckDBAPI(con).register("features")
    settings = {
        **model,
        "blocking_rules_to_generate_predictions": [
            {"blocking_rule": 'l."pid" = r."pid"'},
            {"blocking_rule": 'l."sid" = r."sid"'},
            *({"blocking_rule": rule} for rule in resolve_model.BLOCKING_RULES),
        ],
        "retain_intermediate_calculation_columns": True,
        "retain_matching_columns": True,
    }
    linker = Linker(frame, settings)
    predictions = linker.inference.predict()
    names = [c["output_column_name"] for c in model["comparisons"]]
    gamma_cols = ", ".join(f"gamma_{n}" for n in names)
    # Column and table names only, from the model and Splink: no values in the SQL.
    con.execute(
        "CREATE TABLE pairs AS SELECT unique_id_l AS a, unique_id_r AS b, match_probability AS p,"  # noqa: S608
        f" {gamma_cols} FROM {predictions.physical_name}"
    )
    rule_flags = ", ".join(
        f"coalesce(({rule}), false) AS rule_{i}" for i, rule in enumerate(resolve_model.BLOCKING_RULES)
    )
    result = con.execute(
        f"SELECT pairs.*, {rule_flags} FROM pairs JOIN features l ON l.unique_id = pairs.a"  # noqa: S608
        " JOIN features r ON r.unique_id = pairs.b"
    ).fetchall()
    header = [d[0] for d in con.description]
    con.close()
    out: dict[tuple[int, int], dict[str, Any]] = {}
    for values in result:
        item = dict(zip(header, values, strict=True))
        key = (min(item["a"], item["b"]), max(item["a"], item["b"]))
        out[key] = {
            "p": item["p"],
            "gammas": {n: item[f"gamma_{n}"] for n in names},
            "blocked": any(item[f"rule_{i}"] for i in range(len(resolve_model.BLOCKING_RULES))),
        }
    return out


def relation(x: dict[str, Any], y: dict[str, Any]) -> str:
    """How two different true people are related, from the truth file (and shared contact)."""
    tags = (x["tags"] | y["tags"]) - FORMAT_TAGS
    if x["rid"] == y["rid"] and x["pid"] != x["rid"] and y["pid"] != y["rid"]:
        return "twins" if "twin" in x["tags"] and "twin" in y["tags"] else "siblings (minors)"
    if x["pid"] == y["rid"] or y["pid"] == x["rid"]:
        return "guardian and minor child" + (" (similar name)" if "similar_parent" in tags else "")
    shared = any(x[k] and x[k] == y[k] for k in ("phone", "email", "address_key"))
    if "namesake" in tags:
        return "namesakes"
    if shared:
        if "similar_parent" in tags:
            return "household adults (similar-name parent/child)"
        if "grown_child" in tags:
            return "household adults (grown child involved)"
        return "household adults (spouses, parent and grown child)"
    return "strangers"


def registration(x: dict[str, Any], y: dict[str, Any], as_of: Any) -> str:
    """Who registered the two rows: a guardian (a child's row) or the person (an own row)."""
    child = [row for row in (x, y) if row["guardian_fold"] or row["guardian_kana"]]
    if len(child) != 1:
        return "both child rows" if child else "both own rows"
    birth = child[0]["dob"]
    if not birth:
        return "child row + own row (age unknown)"
    if is_minor(date.fromisoformat(birth), as_of):
        return "child row (minor now) + own row"
    return "child row (adult now) + own row"


def tagset(x: dict[str, Any], y: dict[str, Any]) -> str:
    return ",".join(sorted((x["tags"] | y["tags"]) - FORMAT_TAGS)) or "-"


def levels_of(info: dict[str, Any] | None, labels: dict[str, dict[int, str]], name: str) -> str:
    if info is None:
        return "(not scored)"
    return labels[name].get(info["gammas"][name], "?")


def show(title: str, counter: Counter, total: int | None = None, top: int = 12, indent: str = "  ") -> None:
    print(f"{indent}{title}")
    for key, count in counter.most_common(top):
        share = f" ({count / total:6.1%})" if total else ""
        print(f"{indent}  {count:7,d}{share}  {key}")
    if len(counter) > top:
        rest = sum(c for _, c in counter.most_common()[top:])
        print(f"{indent}  {rest:7,d}  … {len(counter) - top} more")


EXAMPLE_FIELDS = (
    "record_id",
    "name_key",
    "kana_key",
    "dob",
    "gender",
    "phone",
    "email",
    "postal",
    "address_key",
    "guardian_fold",
    "guardian_kana",
    "card_hash",
    "card_last4",
)


def example(x: dict[str, Any], y: dict[str, Any], info: dict[str, Any] | None, labels: dict) -> str:
    left = " | ".join(str(x.get(f) or "")[:24] for f in EXAMPLE_FIELDS)
    right = " | ".join(str(y.get(f) or "")[:24] for f in EXAMPLE_FIELDS)
    p = f"p={info['p']:.3f}" if info else "not scored"
    lv = "; ".join(f"{n}: {levels_of(info, labels, n)}" for n in labels) if info else ""
    return f"      {p} {lv}\n        {left}  [{tagset(x, x)}]\n        {right}  [{tagset(y, y)}]"


def analyze_subjects(data: dict[str, Any], pairs: dict, labels: dict, examples: int) -> dict[str, Any]:
    from owabi.records.resolve import MATCH_THRESHOLD, REVIEW_THRESHOLD

    rows, placeholders = data["rows"], data["placeholders"]
    by_pid: dict[str, list[int]] = defaultdict(list)
    by_sid: dict[str, list[int]] = defaultdict(list)
    for pk, row in rows.items():
        by_pid[row["pid"]].append(pk)
        by_sid[row["sid"]].append(pk)

    true_pairs = sum(len(m) * (len(m) - 1) // 2 for m in by_pid.values())
    cause_pairs: Counter = Counter()
    cause_levels: dict[str, Counter] = defaultdict(Counter)
    cause_tags: dict[str, Counter] = defaultdict(Counter)
    cause_examples: dict[str, list[str]] = defaultdict(list)
    tag_all: Counter = Counter()
    tag_missed: Counter = Counter()
    person_cause: Counter = Counter()

    def pair_cause(a: int, b: int) -> str:
        if a in placeholders or b in placeholders:
            return "pre-birth row not attached"
        info = pairs.get((min(a, b), max(a, b)))
        if info is None or info["gammas"]["person"] == -1:
            return "name missing (never scored)"
        if not info["blocked"]:
            return "never a blocking candidate"
        if info["p"] < REVIEW_THRESHOLD:
            return "scored below review threshold"
        if info["p"] < MATCH_THRESHOLD:
            return "in the review band"
        return "above the threshold but split (review decision)"

    order = [
        "above the threshold but split (review decision)",
        "in the review band",
        "scored below review threshold",
        "never a blocking candidate",
        "name missing (never scored)",
        "pre-birth row not attached",
    ]
    for _pid, members in by_pid.items():
        person_causes = []
        for a, b in combinations(members, 2):
            x, y = rows[a], rows[b]
            for tag in (x["tags"] | y["tags"]) - FORMAT_TAGS:
                tag_all[tag] += 1
            if x["sid"] == y["sid"]:
                continue
            cause = pair_cause(a, b)
            person_causes.append(cause)
            info = pairs.get((min(a, b), max(a, b)))
            cause_pairs[cause] += 1
            cause_levels[cause][
                f"{levels_of(info, labels, 'person')} / {levels_of(info, labels, 'contact')}"
            ] += 1
            cause_tags[cause][tagset(x, y)] += 1
            for tag in (x["tags"] | y["tags"]) - FORMAT_TAGS:
                tag_missed[tag] += 1
            if len(cause_examples[cause]) < examples:
                cause_examples[cause].append(example(x, y, info, labels))
        if person_causes:
            person_cause[min(person_causes, key=order.index)] += 1

    missed = sum(cause_pairs.values())
    print(f"\nSUBJECTS: {len(by_pid):,} true people, {true_pairs:,} true pairs, {missed:,} missed")
    show("missed pairs by cause:", cause_pairs, true_pairs)
    show("split people by their best cross-fragment pair:", person_cause, len(by_pid))
    for cause, _ in cause_pairs.most_common():
        print(f"  -- {cause}")
        show("person / contact level:", cause_levels[cause], indent="    ", top=8)
        show("tags (either record):", cause_tags[cause], indent="    ", top=8)
        for text in cause_examples[cause]:
            print(text)
    rate = Counter(
        {
            f"{tag}: {tag_missed[tag]:,} of {tag_all[tag]:,}": tag_missed[tag] / tag_all[tag]
            for tag in tag_all
            if tag_missed[tag]
        }
    )
    print("  miss rate of true pairs carrying a tag (either record):")
    for key, value in rate.most_common(15):
        print(f"    {value:6.1%}  {key}")

    # Wrong merges: the direct links that joined different people.
    wrong_pairs = 0
    merged_subjects = 0
    link_relation: Counter = Counter()
    link_levels: Counter = Counter()
    link_examples: dict[str, list[str]] = defaultdict(list)
    wrong_by_relation: Counter = Counter()
    for _sid, members in by_sid.items():
        pids = {rows[m]["pid"] for m in members}
        if len(pids) < 2:
            continue
        merged_subjects += 1
        cluster_relations = set()
        for a, b in combinations(members, 2):
            x, y = rows[a], rows[b]
            if x["pid"] == y["pid"]:
                continue
            wrong_pairs += 1
            wrong_by_relation[relation(x, y)] += 1
            info = pairs.get((min(a, b), max(a, b)))
            if info is not None and info["p"] >= MATCH_THRESHOLD:
                rel = relation(x, y)
                cluster_relations.add(rel)
                link_relation[rel] += 1
                link_levels[
                    " / ".join(levels_of(info, labels, n) for n in ("person", "contact", "guardian"))
                ] += 1
                if len(link_examples[rel]) < examples:
                    link_examples[rel].append(example(x, y, info, labels))
            elif a in placeholders or b in placeholders:
                cluster_relations.add("pre-birth row attached to the wrong child")
    predicted_pairs = sum(len(m) * (len(m) - 1) // 2 for m in by_sid.values())
    print(
        f"\n  WRONG MERGES: {merged_subjects:,} subjects hold several people; {wrong_pairs:,} wrong pairs"
        f" of {predicted_pairs:,} predicted"
    )
    show("wrong pairs by relation:", wrong_by_relation, wrong_pairs)
    show("direct links (p >= threshold) between different people, by relation:", link_relation)
    show("direct links by person / contact / guardian level:", link_levels)
    for rel, texts in link_examples.items():
        print(f"  -- {rel}")
        for text in texts:
            print(text)
    return {"by_sid": by_sid}


def analyze_levels(data: dict[str, Any], pairs: dict, labels: dict) -> None:
    """Among all blocking candidates: how often each level combination holds one person or two.

    A combination holding both is where the evidence cannot tell them apart; the model's probability
    for it is printed next to the counts.
    """
    from owabi.records.resolve import MATCH_THRESHOLD

    rows = data["rows"]
    same: Counter = Counter()
    different: Counter = Counter()
    probability: dict[str, float] = {}
    for (a, b), info in pairs.items():
        if not info["blocked"]:
            continue
        key = " / ".join(levels_of(info, labels, n) for n in labels if n != "gender")
        key += " / " + registration(rows[a], rows[b], data["as_of"])
        (same if rows[a]["pid"] == rows[b]["pid"] else different)[key] += 1
        probability[key] = max(probability.get(key, 0.0), info["p"])
    from owabi.records.resolve import REVIEW_THRESHOLD

    review = Counter(
        "same person" if rows[a]["pid"] == rows[b]["pid"] else "two people"
        for (a, b), info in pairs.items()
        if info["blocked"] and REVIEW_THRESHOLD <= info["p"] < MATCH_THRESHOLD
    )
    print(f"\nREVIEW BAND: {sum(review.values()):,} pairs, {review['same person']:,} of them one person")
    print("\nBLOCKING CANDIDATES by person / contact / guardian level (errors first):")
    print("     same  different  max p   combination")
    keys = sorted(
        set(same) | set(different),
        key=lambda k: -(different[k] if probability[k] >= MATCH_THRESHOLD else same[k]),
    )
    for key in keys[:25]:
        print(f"  {same[key]:7,d}  {different[key]:9,d}  {probability[key]:.3f}   {key}")


def _subject_infos(data: dict[str, Any], by_sid: dict[str, list[int]]) -> dict[str, dict[str, Any]]:
    """What the recipient assignment sees of each predicted subject: minor or not and the guardian's
    name and reading (from resolve.recipients.subject_facts itself), its names and contacts."""
    from owabi.records.resolve.households import CONTACT_KINDS
    from owabi.records.resolve.recipients import subject_facts

    rows = data["rows"]
    pks = list(rows)
    index = {pk: i for i, pk in enumerate(pks)}
    col = {key: [rows[pk][key] for pk in pks] for key in ("dob", "guardian_fold", "guardian_kana")}
    placeholder = [pk in data["placeholders"] for pk in pks]
    sids = list(by_sid)
    clusters = [sorted(index[pk] for pk in by_sid[sid]) for sid in sids]
    minor, guardian, guardian_kana = subject_facts(clusters, col, placeholder, data["as_of"])
    infos = {}
    for n, sid in enumerate(sids):
        members = sorted(by_sid[sid])
        infos[sid] = {
            "members": members,
            "minor": minor[n],
            "guardian": guardian[n],
            "guardian_kana": guardian_kana[n],
            "names": {rows[m]["name_fold"] for m in members} - {None},
            "kana": {rows[m]["kana_key"] for m in members} - {None},
            "tokens": {(kind, rows[m][kind]) for m in members for kind in CONTACT_KINDS if rows[m][kind]},
        }
    return infos


def analyze_recipients(data: dict[str, Any], labels: dict, examples: int) -> None:
    rows = data["rows"]
    by_sid: dict[str, list[int]] = defaultdict(list)
    by_true_rid: dict[str, list[int]] = defaultdict(list)
    by_pred_rid: dict[str, list[int]] = defaultdict(list)
    for pk, row in rows.items():
        by_sid[row["sid"]].append(pk)
        by_true_rid[row["rid"]].append(pk)
        by_pred_rid[row["pred_rid"]].append(pk)
    info_of = _subject_infos(data, by_sid)
    subjects_of: dict[str, set[str]] = defaultdict(set)
    for row in rows.values():
        subjects_of[row["pid"]].add(row["sid"])

    def true_minor(row: dict[str, Any]) -> bool:
        return row["pid"] != row["rid"]

    def subject_purity(row: dict[str, Any]) -> str:
        members = by_sid[row["sid"]]
        return "ok" if len({rows[m]["pid"] for m in members}) == 1 else "merged"

    def split_cause(x: dict[str, Any], y: dict[str, Any]) -> str:
        if x["pid"] == y["pid"]:
            return "subject split (same person, two subjects)"
        ix, iy = info_of[x["sid"]], info_of[y["sid"]]
        if subject_purity(x) != "ok" or subject_purity(y) != "ok":
            return "a subject holds several people (merge elsewhere)"
        for row, info in ((x, ix), (y, iy)):
            if true_minor(row) and not info["minor"]:
                if not any(rows[m]["dob"] for m in info["members"]):
                    return "minor taken for an adult (no birth date)"
                return "minor taken for an adult (birth date / notice date)"
            if not true_minor(row) and info["minor"]:
                return "guardian taken for a minor"
        gx = {k for k in (ix["guardian"], ix["guardian_kana"]) if k}
        gy = {k for k in (iy["guardian"], iy["guardian_kana"]) if k}
        if true_minor(x) and true_minor(y):
            if not gx & gy:
                return "siblings: guardian name and reading both differ"
            if not ix["tokens"] & iy["tokens"]:
                return "siblings: no shared phone, e-mail or address"
            return "siblings: other"
        child, adult = (ix, iy) if true_minor(x) else (iy, ix)
        guardian_pid = (y if true_minor(x) else x)["pid"]
        if len(subjects_of[guardian_pid]) > 1:
            return "guardian split over several subjects (children went to another part)"
        gc = {k for k in (child["guardian"], child["guardian_kana"]) if k}
        if not gc & (adult["names"] | adult["kana"]):
            return "guardian's own name differs from the name the child's rows give"
        if not child["tokens"] & adult["tokens"]:
            return "guardian and child share no phone, e-mail or address"
        return "guardian: votes went to another adult"

    def merge_cause(x: dict[str, Any], y: dict[str, Any]) -> str:
        if x["sid"] == y["sid"]:
            return "subject merge (two people, one subject)"
        if true_minor(x) and true_minor(y):
            return "minors of different guardians grouped"
        if true_minor(x) or true_minor(y):
            return "minor given to the wrong adult"
        return "two adults in one recipient (a true adult taken for a minor)"

    for title, groups, other_key, cause_of, total_label in (
        ("split", by_true_rid, "pred_rid", split_cause, "true recipients"),
        ("merged", by_pred_rid, "rid", merge_cause, "predicted recipients"),
    ):
        pair_causes: Counter = Counter()
        cluster_causes: Counter = Counter()
        tag_causes: dict[str, Counter] = defaultdict(Counter)
        cause_examples: dict[str, list[str]] = defaultdict(list)
        bad_clusters = 0
        for members in groups.values():
            if len({rows[m][other_key] for m in members}) < 2:
                continue
            bad_clusters += 1
            causes = set()
            for a, b in combinations(members, 2):
                x, y = rows[a], rows[b]
                if x[other_key] == y[other_key]:
                    continue
                cause = cause_of(x, y)
                causes.add(cause)
                pair_causes[cause] += 1
                tag_causes[cause][tagset(x, y)] += 1
                if len(cause_examples[cause]) < examples:
                    cause_examples[cause].append(example(x, y, None, labels))
            for cause in causes:
                cluster_causes[cause] += 1
        print(f"\nRECIPIENTS {title.upper()}: {bad_clusters:,} of {len(groups):,} {total_label}")
        show(f"{title} pairs by cause:", pair_causes, sum(pair_causes.values()))
        show(f"{title} clusters by cause (a cluster may have several):", cluster_causes, len(groups))
        for cause, _ in pair_causes.most_common():
            if cause.startswith("subject"):
                continue
            print(f"  -- {cause}")
            show("tags:", tag_causes[cause], indent="    ", top=6)
            for text in cause_examples[cause]:
                print(text)


def analyze_evidence(data: dict[str, Any]) -> None:
    """What links the parts of each split true recipient, if anything: a phone, e-mail, address or card
    shared through any chain of records (the household's own rows, the model's subjects), or only names.
    A split with no shared contact at all can be joined only on names (and birth dates), which the
    incident's namesakes make unsafe."""
    rows = data["rows"]
    parent = {pk: pk for pk in rows}

    def find(x: int) -> int:
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    linked: dict[tuple[str, Any], list[int]] = defaultdict(list)
    for pk, row in rows.items():
        for kind in ("phone", "email", "address_key", "card_hash"):
            if row.get(kind):
                linked[(kind, row[kind])].append(pk)
        linked[("subject", row["sid"])].append(pk)
    for pks in linked.values():
        for pk in pks[1:]:
            a, b = find(pks[0]), find(pk)
            if a != b:
                parent[a] = b
    by_rid: dict[str, list[int]] = defaultdict(list)
    for pk, row in rows.items():
        by_rid[row["rid"]].append(pk)

    def across(parts: list[list[int]], test: Any) -> bool:
        return any(
            test(rows[a], rows[b])
            for i, left in enumerate(parts)
            for right in parts[i + 1 :]
            for a in left
            for b in right
        )

    causes: Counter = Counter()
    for pks in by_rid.values():
        fragments: dict[str, list[int]] = defaultdict(list)
        for pk in pks:
            fragments[rows[pk]["pred_rid"]].append(pk)
        if len(fragments) < 2:
            continue
        parts = list(fragments.values())
        if len({find(pk) for pk in pks}) == 1:
            causes["a phone, e-mail, address or card links the parts (through any records)"] += 1
        elif across(
            parts,
            lambda x, y: (
                x["name_fold"] and x["name_fold"] == y["name_fold"] and x["dob"] and x["dob"] == y["dob"]
            ),
        ):
            causes["nothing shared: the same name and birth date only"] += 1
        elif across(parts, lambda x, y: x["name_fold"] and x["name_fold"] == y["name_fold"]):
            causes["nothing shared: the same name only (a birth date missing or different)"] += 1
        elif across(parts, lambda x, y: x["guardian_fold"] and x["guardian_fold"] == y["guardian_fold"]):
            causes["nothing shared: the same guardian's name only"] += 1
        else:
            causes["nothing shared: other"] += 1
    print(f"\nSPLIT RECIPIENTS BY THE EVIDENCE BETWEEN THEIR PARTS ({len(by_rid):,} true recipients)")
    show("", causes, len(by_rid))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("work", type=Path, help="the work dir bench_pipeline.py printed")
    parser.add_argument("--incident", default="bench")
    parser.add_argument("--examples", type=int, default=0)
    parser.add_argument("--database", default="", help="the --database given to bench_pipeline.py, if any")
    options = parser.parse_args()
    setup(options.work, options.database)
    from owabi.records.resolve.explanation import level_labels

    data = load(options.work, options.incident)
    print(f"{len(data['rows']):,} records, resolve ran on {data['as_of']} ({options.work})")
    pairs = score(data["rows"], data["placeholders"], data["model"])
    labels = level_labels(data["model"])
    analyze_subjects(data, pairs, labels, options.examples)
    analyze_levels(data, pairs, labels)
    analyze_recipients(data, labels, options.examples)
    analyze_evidence(data)


if __name__ == "__main__":
    main()
