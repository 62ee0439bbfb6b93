"""Leaked records as imported. All PII sits in `sealed` (encrypted); lookups use keyed hashes (LookupKey)."""

from __future__ import annotations

import uuid

from django.db import models

from owabi.core.fields import RowBound, SealedBytesField, SealedJSONField


class SourceFile(models.Model):
    """One import of one export file; its sha256 makes a second import of the same file a no-op.

    An import commits every OWABI_IMPORT_CHECKPOINT_ROWS rows (an ImportCheckpoint each time); until its
    last commit it is unfinished (`finished` false, the counts so far), and running it again resumes it.
    """

    incident = models.ForeignKey("incidents.Incident", on_delete=models.PROTECT, related_name="source_files")
    source = models.CharField(max_length=100, help_text="Which system the export came from")
    file_name = models.CharField(max_length=255)
    # Where the file was when imported: tells a same-named file elsewhere from a new version of this one.
    source_path = models.CharField(max_length=4096, blank=True)
    sha256 = models.CharField(max_length=64)
    encoding = models.CharField(max_length=20, blank=True)
    mapping = models.JSONField(default=dict, blank=True, help_text="Input column -> standard column")
    rows_in = models.PositiveIntegerField(default=0)
    rows_ok = models.PositiveIntegerField(default=0)
    rows_rejected = models.PositiveIntegerField(default=0)
    imported_at = models.DateTimeField(auto_now_add=True)
    # False from the import's first commit to its last: its rows are in part imported, resolve waits.
    finished = models.BooleanField(default=False)
    resumed = models.PositiveIntegerField(default=0, help_text="How many times a stopped import resumed")

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["incident", "sha256"], name="records_sourcefile_once_per_incident"
            )
        ]

    def __str__(self) -> str:
        return f"{self.source}:{self.file_name}"


class ImportCheckpoint(models.Model):
    """Where an import stood at one of its commits: rows read, kept and rejected so far (and the records
    they made), and the rejects and warnings of the rows since the checkpoint before, as [line, field,
    reason] (never a value), for the reports that the import's end writes."""

    source_file = models.ForeignKey(SourceFile, on_delete=models.CASCADE, related_name="checkpoints")
    rows_read = models.PositiveIntegerField()
    rows_ok = models.PositiveIntegerField()
    rows_rejected = models.PositiveIntegerField()
    records = models.PositiveIntegerField()
    last_line = models.PositiveIntegerField(help_text="The file's line where the last row read ended")
    rejects = models.JSONField(default=list, blank=True)
    warnings = models.JSONField(default=list, blank=True)
    committed_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["source_file", "rows_read"], name="records_checkpoint_once")
        ]

    def __str__(self) -> str:
        return f"checkpoint of source file {self.source_file_id} at row {self.rows_read}"


class LeakRecord(RowBound):
    """One leaked row. `sealed` holds the normalized PII; `categories` the leaked item codes (not PII)."""

    # Written in bulk: no database constraint (a per-row trigger at commit); the importer checks the links
    # set-wise before committing (owabi.core.bulk.check_links). PROTECT is enforced by Django.
    incident = models.ForeignKey(
        "incidents.Incident", on_delete=models.PROTECT, related_name="records", db_constraint=False
    )
    # No index of its own: the unique (source_file, record_id) index starts with it.
    source_file = models.ForeignKey(
        SourceFile, on_delete=models.PROTECT, related_name="records", db_constraint=False, db_index=False
    )
    record_id = models.CharField(max_length=100, help_text="The record's id as given in the export")
    line_no = models.PositiveIntegerField()
    # "" for the row's own person; another person on the same row (the same line of the same file) says
    # who they are to it: "shipping_recipient" (an order's 配送先, often a gift's receiver).
    role = models.CharField(max_length=30, blank=True, default="", db_default="")
    sealed = SealedJSONField()  # the row's values, cleaned (NFKC, trimmed), card numbers reduced
    categories = models.JSONField(default=list)
    # Fields whose value could not be normalized ("subject_birth_date: not a date"): kept, not rejected,
    # and reported in the import's warnings file. Field names and reasons only, never values.
    problems = models.JSONField(default=list, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["source_file", "record_id"], name="records_leakrecord_unique_id_per_file"
            )
        ]

    def __str__(self) -> str:
        return f"record {self.record_id}"


class LookupKey(models.Model):
    """One way to find a record: a keyed hash of a normalized name + phone, name + card last 4, name +
    postal code, or e-mail, within its incident (owabi.records.lookup makes them; `find` reads them).

    A narrow table rather than columns of LeakRecord: a record has as many keys as it has values (its
    subject's name and reading, its guardian's, times the contacts it holds), and a value it lacks costs
    no row. The primary key (key, record) is the lookup's index; the record's index serves re-indexing
    and erasure (a deleted record takes its keys with it).
    """

    pk = models.CompositePrimaryKey("key", "record")
    key = models.BinaryField(max_length=16)
    # Written in bulk at import: no database constraint, as for LeakRecord's own links.
    record = models.ForeignKey(LeakRecord, on_delete=models.CASCADE, related_name="+", db_constraint=False)

    def __str__(self) -> str:
        return f"lookup key of record {self.record_id}"


class MatchBatch(RowBound):
    """The normalized matching keys (owabi.records.features) of a run of lines of one source file, as one
    sealed, compressed Arrow IPC stream (owabi.records.match_store).

    Computed at import, so resolve opens one blob per few thousand records instead of one per record,
    and gets columns ready for the matcher. A batch of an older features VERSION is replaced by resolve.
    Lines are the file's line numbers; a line without a LeakRecord (a row dropped as a repeat within its
    file, or an erased record) is ignored. Erasing a record must delete the batches holding its line
    (match_store.forget); resolve recomputes the other records' keys.
    """

    incident = models.ForeignKey("incidents.Incident", on_delete=models.CASCADE, related_name="+")
    source_file = models.ForeignKey(SourceFile, on_delete=models.CASCADE, related_name="match_batches")
    first_line = models.PositiveIntegerField()
    last_line = models.PositiveIntegerField()
    version = models.PositiveSmallIntegerField()
    rows = models.PositiveIntegerField()
    keys = SealedBytesField()

    class Meta:
        indexes = [models.Index(fields=["incident", "version"])]

    def __str__(self) -> str:
        return f"match keys {self.source_file_id}:{self.first_line}-{self.last_line}"


class Recipient(models.Model):
    """Who a notice is addressed to: an adult subject themself, or the guardian of minor subjects.

    `number` is stable across re-runs of resolve: notices may already carry it.
    """

    class Kind(models.TextChoices):
        SELF = "self", "本人 / The person"
        GUARDIAN = "guardian", "保護者 / Guardian"

    # No index of its own: the unique (incident, number) index starts with it. One index fewer to
    # maintain for each of the hundreds of thousands of rows a resolve writes.
    incident = models.ForeignKey(
        "incidents.Incident",
        on_delete=models.PROTECT,
        related_name="recipients",
        db_constraint=False,
        db_index=False,
    )
    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    number = models.PositiveIntegerField()
    kind = models.CharField(max_length=10, choices=Kind.choices)
    # The record whose name (the guardian's, for kind=guardian) and contact data the notice uses: the
    # fullest one. A pointer, not a copy, so the PII stays in one sealed place.
    contact_record = models.ForeignKey(
        "LeakRecord", null=True, blank=True, on_delete=models.SET_NULL, related_name="+", db_constraint=False
    )

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["incident", "number"], name="records_recipient_number_unique")
        ]

    def __str__(self) -> str:
        return f"recipient P{self.number}"


class Subject(models.Model):
    """One real person whose data leaked: a cluster of LeakRecords. `number` is stable across re-runs."""

    # No index of its own: the unique (incident, number) index starts with it. One index fewer to
    # maintain for each of the hundreds of thousands of rows a resolve writes.
    incident = models.ForeignKey(
        "incidents.Incident",
        on_delete=models.PROTECT,
        related_name="subjects",
        db_constraint=False,
        db_index=False,
    )
    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    number = models.PositiveIntegerField()
    recipient = models.ForeignKey(
        Recipient,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="subjects",
        db_constraint=False,
    )
    is_minor = models.BooleanField(default=False)
    # The record with the fullest name, reading and birth date, for notices (a pointer, not a copy).
    best_record = models.ForeignKey(
        "LeakRecord", null=True, blank=True, on_delete=models.SET_NULL, related_name="+", db_constraint=False
    )

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["incident", "number"], name="records_subject_number_unique")
        ]

    def __str__(self) -> str:
        return f"subject S{self.number}"


class Membership(models.Model):
    """Which subject a record belongs to. A narrow table of its own rather than a column of LeakRecord:
    resolve re-links up to every record of an incident, and rewriting a million sealed rows (and their
    six indexes) costs minutes, where writing a million two-number rows costs seconds."""

    record = models.OneToOneField(
        LeakRecord, primary_key=True, on_delete=models.CASCADE, related_name="membership", db_constraint=False
    )
    subject = models.ForeignKey(
        Subject, on_delete=models.CASCADE, related_name="memberships", db_constraint=False
    )

    def __str__(self) -> str:
        return f"record {self.record_id} in subject {self.subject_id}"


class ReviewPair(models.Model):
    """A pair of records the matcher was unsure about. A human decision here survives every re-run."""

    class Decision(models.TextChoices):
        PENDING = "pending", "未確認 / Pending"
        SAME = "same", "同一人物 / Same person"
        DIFFERENT = "different", "別人 / Different people"

    incident = models.ForeignKey("incidents.Incident", on_delete=models.PROTECT, related_name="review_pairs")
    record_a = models.ForeignKey(LeakRecord, on_delete=models.CASCADE, related_name="+")
    record_b = models.ForeignKey(LeakRecord, on_delete=models.CASCADE, related_name="+")
    probability = models.FloatField()
    decision = models.CharField(max_length=10, choices=Decision.choices, default=Decision.PENDING)
    decided_by = models.CharField(max_length=100, blank=True)
    decided_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["record_a", "record_b"], name="records_reviewpair_unique"),
            models.CheckConstraint(
                condition=models.Q(record_a__lt=models.F("record_b")), name="records_reviewpair_ordered"
            ),
        ]

    def __str__(self) -> str:
        return f"review {self.record_a_id}~{self.record_b_id} {self.decision}"


class ResolveRun(models.Model):
    """One run of resolve: its counts and the trained model (m and u per level, no PII), kept so that
    any past grouping can be explained and reproduced."""

    incident = models.ForeignKey("incidents.Incident", on_delete=models.PROTECT, related_name="resolve_runs")
    finished_at = models.DateTimeField(auto_now_add=True)
    records = models.PositiveIntegerField()
    subjects = models.PositiveIntegerField()
    recipients = models.PositiveIntegerField()
    model = models.JSONField(default=dict)

    def __str__(self) -> str:
        return f"resolve run {self.pk} of incident {self.incident_id}"
