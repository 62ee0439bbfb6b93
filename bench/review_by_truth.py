"""Decide every pending review pair of a benchmark run as a careful reviewer would, from the truth file.

    .venv/bin/python bench/review_by_truth.py WORK_DIR      (run by bench_pipeline.py --review)

The review queue is part of the product: uncertain pairs wait for a person (back office) instead of
being joined or parted by the model. This stands in for that person, with the generator's truth as
their judgement, so the benchmark can show what the queue is worth: resolve re-runs keep the decisions.
Synthetic data only; needs the environment bench_pipeline.py sets (OWABI_DATA_DIR, DATABASE_URL).
"""

from __future__ import annotations

import csv
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))


def main() -> None:
    import django

    django.setup()
    from django.utils import timezone

    from owabi.records.models import ReviewPair

    work = Path(sys.argv[1])
    with (work / "leak.truth.csv").open(encoding="utf-8", newline="") as handle:
        person = {row["record_id"]: row["person_id"] for row in csv.DictReader(handle)}
    pending = ReviewPair.objects.filter(decision=ReviewPair.Decision.PENDING).values_list(
        "pk", "record_a__record_id", "record_b__record_id"
    )
    decided = {ReviewPair.Decision.SAME: [], ReviewPair.Decision.DIFFERENT: []}
    for pk, a, b in pending:
        same = person[a] == person[b]
        decided[ReviewPair.Decision.SAME if same else ReviewPair.Decision.DIFFERENT].append(pk)
    for decision, pks in decided.items():
        ReviewPair.objects.filter(pk__in=pks).update(
            decision=decision, decided_by="bench: truth", decided_at=timezone.now()
        )
    same, different = (len(decided[d]) for d in (ReviewPair.Decision.SAME, ReviewPair.Decision.DIFFERENT))
    print(f"reviewed {same + different:,} pairs: {same:,} one person, {different:,} two people")


if __name__ == "__main__":
    main()
