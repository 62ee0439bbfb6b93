"""Risk of further harm (二次被害) and advice, per group of data categories.

A notice tells its reader the risk and the advice of each group whose categories leaked for the people on
it, and no other: a card warning to someone whose card did not leak is a false statement. Every catalog
category belongs to exactly one group; the groups come in a fixed order (money first). owabi ships a
default text per group in Japanese and English; a notice setup may replace any of them
(`[advice.ja.card] risk = "…"`), and `owabi notices setup` stores the merged texts with the setup's
revision, so a later change of these defaults never changes what a prepared notice says.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from owabi.incidents import categories


@dataclass(frozen=True)
class Group:
    code: str
    categories: tuple[str, ...]


GROUPS: tuple[Group, ...] = (
    Group("card", ("card_number", "card_expiry", "card_security_code", "card_holder")),
    Group("bank", ("bank_account",)),
    Group("login", ("login_credentials",)),
    Group("phone", ("phone", "fax")),
    Group("email", ("email",)),
    Group("address", ("postal_code", "address")),
    Group("birth_date", ("birth_date",)),
    Group("family", ("relationship", "guardian_name", "guardian_kana", "expected_delivery_date")),
    Group("name", ("name", "kana", "gender")),
    Group("health", ("health",)),
    Group("purchase", ("purchase_history",)),
    Group("other", ("other",)),
)
CODES = tuple(group.code for group in GROUPS)
GROUP_OF = {category: group.code for group in GROUPS for category in group.categories}
FIELDS = ("title", "risk", "advice")

# (title, risk, advice) per group and language. Plain, short sentences; each one true for anyone whose
# data of that group leaked, and saying nothing about any other group.
DEFAULTS: dict[str, dict[str, tuple[str, str, str]]] = {
    "ja": {
        "card": (
            "クレジットカード",
            "カード番号などが不正に使われ、身に覚えのない買い物の請求が届くおそれがあります。",
            "カードの利用明細に身に覚えのないご利用がないか、しばらくの間ご確認ください。"
            "不審なご利用を見つけたときや、カードの再発行をご希望のときは、カード裏面の電話番号からカード会社へ"
            "ご連絡ください。再発行の手数料は当社が負担します。",
        ),
        "bank": (
            "銀行口座",
            "口座の情報を使った詐欺や、不正な引き落としの手続きに使われるおそれがあります。",
            "通帳や取引明細に身に覚えのない取引がないかご確認ください。不審な取引は金融機関へご連絡ください。",
        ),
        "login": (
            "ログインIDとパスワード",
            "他人がご本人になりすましてログインするおそれがあります。",
            "同じパスワードをほかのサービスでもお使いの場合は、そちらのパスワードも変更してください。",
        ),
        "phone": (
            "電話番号",
            "勧誘や詐欺の電話、ショートメッセージ（SMS）が届くおそれがあります。",
            "心当たりのない電話やSMSには応じず、SMSのリンクは開かないでください。",
        ),
        "email": (
            "メールアドレス",
            "迷惑メールや、当社などを装った偽のメール（フィッシング）が届くおそれがあります。",
            "心当たりのないメールのリンクや添付ファイルは開かないでください。",
        ),
        "address": (
            "住所",
            "ダイレクトメールや、当社などを装った郵便物・訪問が届くおそれがあります。",
            "身に覚えのない郵便物や訪問には応じず、お金や書類を求められたら当社の窓口へご相談ください。",
        ),
        "birth_date": (
            "生年月日",
            "本人確認の質問に答えて、ご本人になりすますために使われるおそれがあります。",
            "生年月日を知っていることを理由に相手を信用しないでください。",
        ),
        "family": (
            "ご家族の情報",
            "続柄や保護者のお名前、出産予定日など、ご家族のことを知ったうえでの勧誘や詐欺に使われるおそれがあります。",
            "ご家族のことを知っている相手からの連絡でも、すぐには信用しないでください。",
        ),
        "name": (
            "お名前",
            "ほかの情報と合わせて、名前を名乗る勧誘や詐欺に使われるおそれがあります。",
            "名前を知っていることを理由に相手を信用しないでください。",
        ),
        "health": (
            "健康に関する情報",
            "健康状態を知ったうえでの勧誘や詐欺に使われるおそれがあります。",
            "健康食品や治療の勧誘など、心当たりのない連絡には応じないでください。",
        ),
        "purchase": (
            "購入履歴",
            "購入した商品を知ったうえでの勧誘や、購入先を装った詐欺に使われるおそれがあります。",
            "購入した商品のことを知っている相手からの連絡でも、すぐには信用しないでください。",
        ),
        "other": (
            "その他の項目",
            "ほかの情報と合わせて、勧誘や詐欺に使われるおそれがあります。",
            "心当たりのない連絡には応じないでください。",
        ),
    },
    "en": {
        "card": (
            "Credit card",
            "The card details may be misused, and charges you did not make may appear.",
            "Please check your card statements for charges you do not recognise for some time. If you find "
            "one, or want the card re-issued, call the number on the back of the card. "
            "We pay the re-issue fee.",
        ),
        "bank": (
            "Bank account",
            "The account details may be used for fraud or to set up direct debits you did not ask for.",
            "Please check your bank statements and tell your bank about any transaction you do not "
            "recognise.",
        ),
        "login": (
            "Login ID and password",
            "Someone may sign in pretending to be the person.",
            "If you use the same password elsewhere, please change it there too.",
        ),
        "phone": (
            "Phone number",
            "You may receive sales or scam calls and text messages.",
            "Do not respond to calls or texts you do not expect, and do not open links in text messages.",
        ),
        "email": (
            "E-mail address",
            "You may receive spam, and fake e-mails pretending to come from us or others (phishing).",
            "Do not open links or attachments in e-mails you do not expect.",
        ),
        "address": (
            "Address",
            "You may receive direct mail, and letters or visits pretending to come from us or others.",
            "Do not respond to mail or visits you do not expect; if asked for money or papers, ask us first.",
        ),
        "birth_date": (
            "Date of birth",
            "It may be used to answer identity questions and pretend to be the person.",
            "Do not trust a caller because they know a date of birth.",
        ),
        "family": (
            "Family details",
            "Knowing about the family (relationships, a guardian's name, a due date), someone may target "
            "it with sales or scams.",
            "Do not trust a contact just because they know about the family.",
        ),
        "name": (
            "Name",
            "Together with other details, it may be used for sales calls or scams that use the name.",
            "Do not trust a contact just because they know a name.",
        ),
        "health": (
            "Health information",
            "Someone may target you with sales or scams based on your health.",
            "Do not respond to unexpected offers of health products or treatment.",
        ),
        "purchase": (
            "Purchase history",
            "Someone may target you with sales, or pretend to be a shop you bought from.",
            "Do not trust a contact just because they know what you bought.",
        ),
        "other": (
            "Other items",
            "Together with other details, they may be used for sales calls or scams.",
            "Do not respond to contacts you do not expect.",
        ),
    },
}


def _check_catalog() -> None:
    """Every catalog category is in exactly one group (checked at import: a new category needs one)."""
    grouped = [category for group in GROUPS for category in group.categories]
    assert len(grouped) == len(set(grouped)), "a category is in two advice groups"
    missing = [c.code for c in categories.CATEGORIES if c.code not in GROUP_OF]
    assert not missing, f"categories without an advice group: {missing}"


_check_catalog()


def merged(overrides: dict[str, dict[str, str]], language: str) -> dict[str, dict[str, str]]:
    """The texts of every group in `language`: the defaults with the setup's `overrides` on top."""
    defaults = DEFAULTS.get(language, DEFAULTS["ja"])
    texts = {}
    for code in CODES:
        given = overrides.get(code) or {}
        default = dict(zip(FIELDS, defaults[code], strict=True))
        texts[code] = {name: str(given.get(name) or default[name]).strip() for name in FIELDS}
    return texts


def groups_of(items: Iterable[str]) -> list[str]:
    """The groups the category codes `items` fall in, in the fixed order; an unknown code (an export's
    extra column) counts as "other"."""
    present = {GROUP_OF.get(item, "other") for item in items}
    return [code for code in CODES if code in present]
