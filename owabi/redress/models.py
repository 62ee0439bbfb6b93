"""Redress: what an affected person can get and ask for after their notice.

The incident's compensation catalog (Option) and its gift-code pool (GiftCode); each person's one choice
(Choice, keyed by subject so that a person who got two notices is paid once); requests (deletion,
marketing opt-out, contact correction, misuse reports); reimbursement claims with evidence and a payee
bank account; and the to-do items a recipient has ticked. Every value a person typed is sealed.
"""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _

from owabi.core.fields import RowBound, SealedBytesField, SealedJSONField


class Option(models.Model):
    """One entry of the incident's compensation catalog (e.g. ¥500 of e-money, a book card, a donation)."""

    class Kind(models.TextChoices):
        CODE = "code", _("コード（電子マネー・ギフト）")
        VOUCHER = "voucher", _("郵送の金券")
        DONATION = "donation", _("寄付")

    incident = models.ForeignKey("incidents.Incident", on_delete=models.PROTECT, related_name="options")
    key = models.SlugField(max_length=40, help_text="Stable name in the setup file (emoney, book_card, …)")
    kind = models.CharField(max_length=10, choices=Kind.choices)
    label_ja = models.CharField(max_length=100)
    label_en = models.CharField(max_length=100)
    description_ja = models.TextField(blank=True)
    description_en = models.TextField(blank=True)
    amount_yen = models.PositiveIntegerField()
    charity = models.CharField(max_length=200, blank=True, help_text="For donations: the named recipient")
    position = models.PositiveSmallIntegerField(default=0)
    active = models.BooleanField(default=True)

    class Meta:
        ordering = ["position", "pk"]
        constraints = [
            models.UniqueConstraint(fields=["incident", "key"], name="redress_option_key_unique"),
            models.CheckConstraint(
                condition=~models.Q(kind="donation") | ~models.Q(charity=""),
                name="redress_option_donation_names_charity",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.key} ({self.amount_yen} yen)"


class GiftCode(RowBound):
    """One code of the pool imported from a gift provider: handed out to exactly one choice."""

    option = models.ForeignKey(Option, on_delete=models.PROTECT, related_name="codes")
    # {"code": …, "gift_id": …, "management_number": …, "expires": …}: secret until handed out.
    sealed = SealedJSONField()
    # Keyed hash of the code: the same code imported twice is one code.
    fingerprint = models.CharField(max_length=64)
    batch = models.CharField(max_length=64, help_text="SHA-256 of the file it came from")
    choice = models.OneToOneField(
        "Choice", null=True, blank=True, on_delete=models.PROTECT, related_name="gift_code"
    )
    assigned_at = models.DateTimeField(null=True, blank=True)
    imported_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["option", "fingerprint"], name="redress_giftcode_unique"),
        ]
        indexes = [
            # The free codes of an option, in order: the next one to hand out.
            models.Index(
                fields=["option", "id"], condition=models.Q(choice__isnull=True), name="redress_giftcode_free"
            )
        ]

    def __str__(self) -> str:
        return f"gift code {self.pk} of {self.option_id}"


class Choice(RowBound):
    """A person's compensation choice. One live choice per subject, enforced by the database."""

    class Status(models.TextChoices):
        CONFIRMED = "confirmed", _("受付済")
        HELD = "held", _("確認中（重複の可能性）")
        FULFILLING = "fulfilling", _("手配中")
        FULFILLED = "fulfilled", _("完了")
        CANCELLED = "cancelled", _("取消")
        REJECTED = "rejected", _("お受けできません")

    class By(models.TextChoices):
        PORTAL = "portal", _("本人（専用ページ）")
        STAFF = "staff", _("窓口")

    incident = models.ForeignKey("incidents.Incident", on_delete=models.PROTECT, related_name="+")
    # SET_NULL: a later resolve may merge the person into another subject; staff then re-link the choice.
    subject = models.ForeignKey(
        "records.Subject", null=True, on_delete=models.SET_NULL, related_name="choices", db_constraint=False
    )
    notice = models.ForeignKey("notices.Notice", null=True, on_delete=models.SET_NULL, related_name="+")
    option = models.ForeignKey(Option, on_delete=models.PROTECT, related_name="choices")
    status = models.CharField(max_length=12, choices=Status.choices)
    reference = models.CharField(max_length=20, unique=True)
    # A mailed voucher's address as confirmed or corrected by the person: {"postal_code", "address", "name"}.
    details = SealedJSONField(null=True)
    by = models.CharField(max_length=10, choices=By.choices, default=By.PORTAL)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["subject"],
                condition=~models.Q(status__in=["cancelled", "rejected"]),
                name="redress_choice_one_per_subject",
            )
        ]

    def __str__(self) -> str:
        return f"choice {self.reference}"


class ChoiceKey(models.Model):
    """Keyed hashes of who a choice pays (name + birth date, card, name + phone …): a second choice for
    the same person through another notice finds the first by these and is held for review."""

    choice = models.ForeignKey(Choice, on_delete=models.CASCADE, related_name="keys")
    incident = models.ForeignKey("incidents.Incident", on_delete=models.CASCADE, related_name="+")
    digest = models.BinaryField(max_length=32)

    class Meta:
        indexes = [models.Index(fields=["incident", "digest"], name="redress_choicekey_digest")]

    def __str__(self) -> str:
        return f"key of choice {self.choice_id}"


class Request(RowBound):
    """Something a person asks of the company: staff work it and the person is told when it is done."""

    class Kind(models.TextChoices):
        DELETE = "delete", _("個人情報の削除")
        STOP_MARKETING = "stop_marketing", _("広告・案内の停止")
        CORRECT_CONTACT = "correct_contact", _("連絡先の訂正")
        MISUSE = "misuse", _("流出した情報を使った連絡があった")
        RESEND_NOTICE = "resend_notice", _("お知らせの再送（郵送）")

    class Status(models.TextChoices):
        OPEN = "open", _("受付済")
        IN_PROGRESS = "in_progress", _("対応中")
        DONE = "done", _("完了")
        DECLINED = "declined", _("対応できませんでした")

    incident = models.ForeignKey("incidents.Incident", on_delete=models.PROTECT, related_name="+")
    recipient = models.ForeignKey(
        "records.Recipient", null=True, on_delete=models.SET_NULL, related_name="+", db_constraint=False
    )
    subject = models.ForeignKey(
        "records.Subject", null=True, on_delete=models.SET_NULL, related_name="+", db_constraint=False
    )
    notice = models.ForeignKey("notices.Notice", null=True, on_delete=models.SET_NULL, related_name="+")
    kind = models.CharField(max_length=20, choices=Kind.choices)
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.OPEN)
    reference = models.CharField(max_length=20, unique=True)
    details = SealedJSONField(null=True)  # what the person wrote; a corrected contact
    due_on = models.DateField()
    owner = models.ForeignKey(
        "auth.User", null=True, blank=True, on_delete=models.SET_NULL, related_name="redress_requests"
    )
    by = models.CharField(max_length=10, choices=Choice.By.choices, default=Choice.By.PORTAL)
    created_at = models.DateTimeField(auto_now_add=True)
    done_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [models.Index(fields=["incident", "status", "due_on"], name="redress_request_queue")]

    def __str__(self) -> str:
        return f"request {self.reference}"


class Payee(RowBound):
    """A bank account a reimbursement is paid to (全銀 総合振込). Sealed; its fingerprint (keyed hash of
    bank, branch and account number) finds the same account across claims, a fraud signal."""

    incident = models.ForeignKey("incidents.Incident", on_delete=models.PROTECT, related_name="+")
    # {"bank_code", "branch_code", "account_type", "account_number", "holder_kana"}
    sealed = SealedJSONField()
    fingerprint = models.CharField(max_length=64, db_index=True)
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"payee {self.pk}"


class Claim(RowBound):
    """A reimbursement claim: a card re-issue fee, fraudulent charges the issuer did not refund, or
    another documented loss. It always hangs off a notice (a closed class: no code, no claim)."""

    class Kind(models.TextChoices):
        REISSUE_FEE = "reissue_fee", _("カード再発行の手数料")
        FRAUD_CHARGE = "fraud_charge", _("不正利用の被害（カード会社の補償外）")
        OTHER_LOSS = "other_loss", _("その他の損害")

    class Status(models.TextChoices):
        SUBMITTED = "submitted", _("受付済・審査待ち")
        INFO_REQUESTED = "info_requested", _("追加の資料をお願いしています")
        RECOMMENDED = "recommended", _("審査中")  # one reviewer approved; a second must confirm
        APPROVED = "approved", _("承認済・お支払い準備中")
        REJECTED = "rejected", _("お支払いできません")
        PAID = "paid", _("お支払い済")
        RETURNED = "returned", _("振込ができませんでした")

    incident = models.ForeignKey("incidents.Incident", on_delete=models.PROTECT, related_name="+")
    subject = models.ForeignKey(
        "records.Subject", null=True, on_delete=models.SET_NULL, related_name="+", db_constraint=False
    )
    recipient = models.ForeignKey(
        "records.Recipient", null=True, on_delete=models.SET_NULL, related_name="+", db_constraint=False
    )
    notice = models.ForeignKey("notices.Notice", null=True, on_delete=models.SET_NULL, related_name="+")
    kind = models.CharField(max_length=20, choices=Kind.choices)
    amount_yen = models.PositiveIntegerField()
    details = SealedJSONField()  # {"description", "occurred_on", "card_last4"}
    payee = models.ForeignKey(Payee, on_delete=models.PROTECT, related_name="claims")
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.SUBMITTED)
    reference = models.CharField(max_length=20, unique=True)
    message = models.TextField(blank=True, help_text="What the claimant is told about a decision (no PII)")
    # Keyed hash of the client address the claim came from: velocity and reuse signals, never the address.
    client = models.CharField(max_length=64, blank=True, db_index=True)
    # Fraud signals scored on arrival and at each review (owabi.redress.review): [{"code", "weight"}].
    signals = models.JSONField(default=list, blank=True)
    score = models.PositiveSmallIntegerField(default=0)
    # Four eyes: the reviewer who approved first; a second, different person confirms.
    first_approver = models.ForeignKey(
        "auth.User", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    decided_by = models.ForeignKey(
        "auth.User", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    decided_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        indexes = [models.Index(fields=["incident", "status"], name="redress_claim_queue")]
        constraints = [
            models.CheckConstraint(
                condition=~models.Q(status="approved")
                | (
                    models.Q(first_approver__isnull=False, decided_by__isnull=False)
                    & ~models.Q(first_approver=models.F("decided_by"))
                ),
                name="redress_claim_four_eyes",
            )
        ]

    def __str__(self) -> str:
        return f"claim {self.reference}"


class Evidence(RowBound):
    """One uploaded file, sealed; served only to reviewers, rendered, never as the raw file."""

    claim = models.ForeignKey(Claim, on_delete=models.CASCADE, related_name="evidence")
    content = SealedBytesField()
    content_type = models.CharField(max_length=40)  # as detected from the content, not as declared
    size = models.PositiveIntegerField()
    uploaded_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"evidence {self.pk} of claim {self.claim_id}"


class TodoDone(models.Model):
    """A to-do item of the portal's "what to do" list that a recipient has ticked off, per person."""

    recipient = models.ForeignKey(
        "records.Recipient", on_delete=models.CASCADE, related_name="+", db_constraint=False
    )
    subject = models.ForeignKey(
        "records.Subject", on_delete=models.CASCADE, related_name="+", db_constraint=False
    )
    item = models.CharField(max_length=40)
    done_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["subject", "item"], name="redress_tododone_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.item} done by subject {self.subject_id}"


class PayoutSetup(models.Model):
    """The company's own account that reimbursements are paid from, and the codes its bank gave it
    for 総合振込 files. One per incident, from the setup file's [redress.payer]; not PII of anyone
    affected. Each batch keeps a copy of what it was approved with (PayoutBatch.payer)."""

    incident = models.OneToOneField("incidents.Incident", on_delete=models.PROTECT, related_name="+")
    requester_code = models.CharField(max_length=10, help_text="振込依頼人コード (10 digits, from the bank)")
    requester_name = models.CharField(max_length=40, help_text="振込依頼人名, half-width, as the bank has it")
    bank_code = models.CharField(max_length=4)
    branch_code = models.CharField(max_length=3)
    account_type = models.CharField(max_length=1, help_text="1 普通, 2 当座, 9 その他")
    account_number = models.CharField(max_length=7)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"payout setup of {self.incident_id}"


class PayoutBatch(models.Model):
    """Approved claims paid together by one 総合振込 file. Four eyes: a second staff user approves
    it before it can be exported (the database refuses the creator as approver)."""

    class Status(models.TextChoices):
        DRAFT = "draft", _("作成済・承認待ち")
        APPROVED = "approved", _("承認済・出力待ち")
        EXPORTED = "exported", _("振込ファイル出力済")
        SETTLED = "settled", _("振込結果取込済")
        CANCELLED = "cancelled", _("取消")

    incident = models.ForeignKey("incidents.Incident", on_delete=models.PROTECT, related_name="+")
    reference = models.CharField(max_length=20, unique=True)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.DRAFT)
    transfer_date = models.DateField(help_text="振込指定日: a bank business day")
    requested_date = models.DateField(help_text="The day asked for; transfer_date is the next business day")
    # PayoutSetup as it was when the batch was made: {"requester_code", "requester_name", "bank_code",
    # "branch_code", "account_type", "account_number"}.
    payer = models.JSONField()
    count = models.PositiveIntegerField()
    total_yen = models.PositiveBigIntegerField()
    created_by = models.ForeignKey("auth.User", on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    approved_by = models.ForeignKey(
        "auth.User", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    approved_at = models.DateTimeField(null=True, blank=True)
    exported_by = models.ForeignKey(
        "auth.User", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    exported_at = models.DateTimeField(null=True, blank=True)
    file_sha256 = models.CharField(max_length=64, blank=True)
    settled_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=models.Q(approved_by__isnull=True) | ~models.Q(approved_by=models.F("created_by")),
                name="redress_payoutbatch_four_eyes",
            ),
            models.CheckConstraint(
                condition=models.Q(status__in=["draft", "cancelled"]) | models.Q(approved_by__isnull=False),
                name="redress_payoutbatch_approved_before_export",
            ),
        ]

    def __str__(self) -> str:
        return f"payout batch {self.reference}"


class Payout(models.Model):
    """One claim's transfer in a batch. Its number is the file's 顧客コード1, so the bank's result
    record finds it. A claim has at most one live (pending or paid) payout: the database says so."""

    class Status(models.TextChoices):
        PENDING = "pending", _("振込待ち")
        PAID = "paid", _("振込済")
        RETURNED = "returned", _("振込不能・返却")
        CANCELLED = "cancelled", _("取消")

    batch = models.ForeignKey(PayoutBatch, on_delete=models.PROTECT, related_name="payouts")
    claim = models.ForeignKey(Claim, on_delete=models.PROTECT, related_name="payouts")
    payee = models.ForeignKey(Payee, on_delete=models.PROTECT, related_name="+")
    payee_fingerprint = models.CharField(max_length=64)
    amount_yen = models.PositiveIntegerField()
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    result_code = models.CharField(max_length=1, blank=True, help_text="振込結果コード from the bank's file")
    settled_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["claim"],
                condition=models.Q(status__in=["pending", "paid"]),
                name="redress_payout_one_live_per_claim",
            ),
            models.CheckConstraint(condition=models.Q(amount_yen__gt=0), name="redress_payout_amount"),
        ]

    def __str__(self) -> str:
        return f"payout {self.pk} of batch {self.batch_id}"


class Call(RowBound):
    """One support call about a person: what it was about, how it ended, and what is still to do. The
    agent's notes are sealed (callers say personal things); topic and outcome are codes, for counting."""

    class Topic(models.TextChoices):
        NOTICE = "notice", _("お知らせ・登録コード")
        SIGN_IN = "sign_in", _("専用ページへのログイン")
        COMPENSATION = "compensation", _("おわびの品・補償")
        CLAIM = "claim", _("損害の請求")
        REQUEST = "request", _("削除・停止・連絡先の訂正")
        MISUSE = "misuse", _("不審な連絡・二次被害")
        OTHER = "other", _("その他")

    class Outcome(models.TextChoices):
        RESOLVED = "resolved", _("解決")
        FOLLOW_UP = "follow_up", _("折り返し・追加対応が必要")
        ESCALATED = "escalated", _("担当部署へ引き継ぎ")
        COMPLAINT = "complaint", _("苦情として受付")

    incident = models.ForeignKey("incidents.Incident", on_delete=models.PROTECT, related_name="+")
    subject = models.ForeignKey(
        "records.Subject", null=True, on_delete=models.SET_NULL, related_name="+", db_constraint=False
    )
    recipient = models.ForeignKey(
        "records.Recipient", null=True, on_delete=models.SET_NULL, related_name="+", db_constraint=False
    )
    topic = models.CharField(max_length=20, choices=Topic.choices)
    outcome = models.CharField(max_length=20, choices=Outcome.choices)
    notes = SealedJSONField()  # {"summary": …, "follow_up": …}: what was said and what is to be done
    follow_up_on = models.DateField(null=True, blank=True)
    staff = models.ForeignKey("auth.User", on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        indexes = [
            models.Index(fields=["subject", "created_at"], name="redress_call_person"),
            # The follow-ups still to do, soonest first.
            models.Index(
                fields=["incident", "follow_up_on"],
                condition=models.Q(outcome="follow_up"),
                name="redress_call_follow_ups",
            ),
        ]

    def __str__(self) -> str:
        return f"call {self.pk} about subject {self.subject_id}"


class LegalHold(models.Model):
    """What is kept of an incident after retention crypto-shredded its personal data
    (owabi.redress.retention): counts and dates to answer the regulator, a court or a person holding
    their letter, and what was done. No person in it. One per incident; a later run only counts."""

    incident = models.OneToOneField("incidents.Incident", on_delete=models.PROTECT, related_name="+")
    # Sources (name, file SHA-256, rows, day), records, subjects, recipients, notices by kind, channel
    # and status with their dates, requests, choices and claims by status, the yen paid.
    summary = models.JSONField()
    # What the first run did: {"overwritten": {"app.Model.column": rows}, "cleared": {…}}.
    done = models.JSONField()
    shredded_at = models.DateTimeField()
    shredded_by = models.CharField(max_length=100, help_text="The audit actor: staff:ID or cli")
    runs = models.PositiveIntegerField(default=1)
    last_run_at = models.DateTimeField()

    def __str__(self) -> str:
        return f"legal hold of incident {self.incident_id}"
