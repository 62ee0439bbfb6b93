"""The figures a regulator report states, each counted live and named with how it was counted.

People come from the records selectors; how individuals have been dealt with (本人への対応) from the
dashboard's funnel, so the report and the dashboard can never disagree.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.utils import timezone

from owabi.incidents import categories
from owabi.incidents.models import Incident
from owabi.records import selectors as records
from owabi.reports.dashboard import funnel


@dataclass(frozen=True)
class Figure:
    key: str
    label: str
    how: str  # how it is counted, as the report states it


PEOPLE = (
    Figure("subjects", "本人の数", "名寄せ（同一人物の統合）後の人数。兄弟姉妹・同姓同名は別人として数える"),
    Figure(
        "records",
        "漏えいしたレコード数",
        "取り込んだ行の数。複数の元システムや再登録で同じ人が複数行に現れる",
    ),
    Figure("recipients", "通知の宛先数", "成人は本人、未成年はその保護者（子が複数でも保護者1名）"),
    Figure("minors", "うち未成年の本人", "通知日の年齢が18歳未満の本人"),
    Figure(
        "guardians",
        "うち保護者宛て",
        "未成年の子の保護者である宛先（保護者自身の情報が漏えいしていない場合を含む）",
    ),
    Figure("unresolved", "名寄せ未了のレコード", "どの本人にもまだ統合されていない行（0であるべき）"),
    Figure("sources", "元データのファイル数", "取り込んだ漏えいデータのファイル数"),
)
RESPONSE = (
    Figure("notices_prepared", "通知の作成数", "宛先ごとに作成した通知（取消を除く、督促を除く）"),
    Figure("notices_sent", "通知の送付数", "メール送信済み・郵便差出済み（不達・返送を含む）"),
    Figure("delivered", "到達（推定）", "送付数から不達・返送を除いた数"),
    Figure("bounced_or_returned", "不達・返送", "メールの不達と郵便の返送"),
    Figure("signed_in", "専用サイトへのログイン", "通知のコードで一度以上ログインした宛先"),
    Figure("compensation_chosen", "お詫びの品の選択", "有効な選択（取消・却下を除く）"),
    Figure("claims_filed", "損害の請求", "受け付けた請求の数"),
    Figure("claims_approved", "請求の承認", "承認済み（支払済みを含む）"),
    Figure("claims_paid", "請求の支払", "支払済み"),
    Figure("deletion_requests", "削除の依頼", "個人情報の削除の依頼（状態を問わない）"),
    Figure("deletions_done", "削除の完了", "完了した削除の依頼"),
    Figure("misuse_reports", "不審な連絡の申告", "流出した情報を使った連絡があったとの申告"),
)
BY_KEY = {figure.key: figure for figure in (*PEOPLE, *RESPONSE)}


@dataclass(frozen=True)
class Item:
    code: str
    label: str
    records: int  # records holding it (0 for a category only declared)
    declared: bool  # declared by the team for every record


@dataclass(frozen=True)
class Counted:
    as_of: datetime
    values: dict[str, int]
    items: list[Item]


def count(incident: Incident) -> Counted:
    """Every figure of the report, as of now."""
    as_of = timezone.now()
    people = records.counts(incident=incident)
    figures = funnel(incident)
    steps = dict(figures.steps)
    values = {
        "subjects": people.subjects,
        "records": people.records,
        "recipients": people.recipients,
        "minors": people.minors,
        "guardians": people.guardians,
        "unresolved": people.unresolved,
        "sources": people.sources,
        "notices_prepared": sum(n for (_, status), n in figures.notices.items() if status != "cancelled"),
        **{key: steps[key] for key in (figure.key for figure in RESPONSE) if key in steps},
        "deletions_done": figures.requests.get(("delete", "done"), 0),
        "misuse_reports": sum(n for (kind, _), n in figures.requests.items() if kind == "misuse"),
    }
    present = records.category_counts(incident=incident)
    declared = set(incident.declared_categories)
    items = [
        # A declared category leaked with every record, though no row holds it (the security code).
        Item(
            category.code,
            category.ja,
            values["records"] if category.code in declared else present.get(category.code, 0),
            category.code in declared,
        )
        for category in categories.CATEGORIES
        if category.code in present or category.code in declared
    ]
    items += [
        Item(code, code, n, False) for code, n in sorted(present.items()) if not categories.is_known(code)
    ]
    return Counted(as_of=as_of, values=values, items=items)
