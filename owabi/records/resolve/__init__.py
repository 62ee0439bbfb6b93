"""Resolve leaked records into subjects (people) and subjects into recipients (who gets the notice).

One job per module, run in this order by `pipeline.resolve`:

1. Features: each record's normalized keys (owabi.records.features), in memory only, and its household
   (`households`: rows joined by a shared phone, e-mail or address through any chain).
2. Scores (`scoring`): Splink on an in-memory DuckDB scores candidate pairs (owabi.records.resolve_model);
   `--engine spark` runs the same model's SQL on Spark (`spark`, `engines`).
3. Subjects (`clusters`): pairs at or above MATCH_THRESHOLD are joined (union-find), after applying every
   human review decision (same: joined; different: never joined directly). Pairs in the review band are
   queued as ReviewPairs. Pre-birth placeholder rows join the child born near the due date.
4. Recipients (`recipients`, DESIGN.md §4.2): an adult is their own recipient; a minor's recipient is
   the guardian. Minors with the same guardian name and a shared phone, e-mail or address share one
   guardian, across sources; a guardian whose own data leaked is that adult's own recipient, so one
   notice covers both.
5. One child listed once (`children`): the minors of one recipient with one name are one subject unless
   their birth dates say otherwise; a pre-birth row joins the one child of the recipient born near the
   due date.
6. Storage (`storage`): numbers stay stable: each new cluster keeps the number of the old subject
   (recipient) it overlaps most, so re-running after another import renumbers nothing that did not change.

`explain` (`explanation`) shows why a record sits in its subject, by the stored model's levels.
"""

from owabi.records.resolve.engines import ENGINES, SparkUnavailable
from owabi.records.resolve.explanation import Explanation, PairExplanation, explain
from owabi.records.resolve.households import households
from owabi.records.resolve.pipeline import ImportUnfinished, IncidentClosed, ResolveResult, resolve
from owabi.records.resolve.resume import discard as discard_checkpoints
from owabi.records.resolve.scoring import MATCH_THRESHOLD, REVIEW_THRESHOLD, ResolveOutOfMemory

__all__ = [
    "ENGINES",
    "MATCH_THRESHOLD",
    "REVIEW_THRESHOLD",
    "Explanation",
    "ImportUnfinished",
    "IncidentClosed",
    "PairExplanation",
    "ResolveOutOfMemory",
    "ResolveResult",
    "SparkUnavailable",
    "discard_checkpoints",
    "explain",
    "households",
    "resolve",
]
