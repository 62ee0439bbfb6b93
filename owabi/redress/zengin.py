"""全銀協 総合振込 (種別コード 21) files: the writer, the bank's result file reader, and a validator.

The format (research/japan.md §5): one header record (データ区分 1), one data record (2) per transfer,
a trailer (8) with the count and the sum, an end record (9); every record 120 bytes of JIS X 0201
(half-width katakana, upper-case Latin, digits). N fields are right-justified and zero-filled, C fields
left-justified and space-filled. We end every record with CRLF: banks take either no line ends or CRLF
and refuse CR or LF alone, and with CRLF the file reads one record a line in any viewer, which is how a
person checks a file before it is uploaded; the banks' result files come back the same way.

The validator (`owabi.redress.zengin_check`) does not use the field tables here: it is written again
from the format description, so a mistake in one is caught by the other. The reader of result files
goes through the validator first, then takes the fields it needs by the tables here.

Nothing here logs, and no message quotes a value from a file: a file holds people's names and accounts.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta

import jpholiday

from owabi.redress.payees import HOLDER_CHARSET, _banks, holder_kana
from owabi.redress.zengin_check import split, validate

RECORD_LENGTH = 120
EOL = b"\r\n"
KIND = "21"  # 総合振込
# Many banks refuse more data records in one file; a batch is never larger (owabi.redress.payouts).
MAX_RECORDS = 9_999
MAX_AMOUNT = 9_999_999_999  # N10

# 振込結果コード in the bank's result file (docs/payouts.md): "0" paid, anything else returned.
RESULT_CODES = {
    "0": ("振込済", "paid"),
    "1": ("口座なし", "no such account"),
    "2": ("受取人名相違", "the holder's name does not match"),
    "3": ("口座解約済", "the account is closed"),
    "4": ("預金種目・口座番号相違", "wrong account type or number"),
    "5": ("組戻し", "returned after the transfer (組戻し)"),
    "8": ("依頼人の都合による取消", "cancelled at our request"),
    "9": ("その他", "other"),
}
PAID = "0"


class ZenginError(ValueError):
    """A file or a value that cannot be written or read; the message names the record and field only."""


# --- Bank business days --------------------------------------------------------------------------------
def is_business_day(day: date) -> bool:
    """Banks in Japan settle on weekdays that are not national holidays (jpholiday knows 振替休日 and
    国民の休日) and not the year-end closing days, 12/31 to 1/3 (銀行法施行令 第5条)."""
    if day.weekday() >= 5 or jpholiday.is_holiday(day):
        return False
    return not ((day.month == 12 and day.day == 31) or (day.month == 1 and day.day <= 3))


def next_business_day(day: date) -> date:
    """`day` itself if banks are open then, else the first day after it that they are."""
    while not is_business_day(day):
        day += timedelta(days=1)
    return day


# --- Writer ---------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Payer:
    """The company's own account and the codes its bank gave it (PayoutSetup, docs/payouts.md)."""

    requester_code: str  # 振込依頼人コード, 10 digits, assigned by the bank
    requester_name: str  # 振込依頼人名, half-width, as the bank registered it
    bank_code: str
    branch_code: str
    account_type: str  # 1 普通, 2 当座, 9 その他
    account_number: str


@dataclass(frozen=True)
class Transfer:
    bank_code: str
    branch_code: str
    account_type: str  # 1 普通, 2 当座, 4 貯蓄, 9 その他
    account_number: str
    name: str  # 受取人名, half-width
    amount: int
    customer_code1: int  # the payout's number: how a result record finds its payout
    customer_code2: int  # the batch's number


# (name, N or C, length): the layout of each record, in order.
HEADER = (
    ("データ区分", "N", 1),
    ("種別コード", "N", 2),
    ("コード区分", "N", 1),
    ("振込依頼人コード", "N", 10),
    ("振込依頼人名", "C", 40),
    ("振込指定日", "N", 4),
    ("仕向銀行番号", "N", 4),
    ("仕向銀行名", "C", 15),
    ("仕向支店番号", "N", 3),
    ("仕向支店名", "C", 15),
    ("預金種目", "N", 1),
    ("口座番号", "N", 7),
    ("ダミー", "C", 17),
)
DATA = (
    ("データ区分", "N", 1),
    ("被仕向銀行番号", "N", 4),
    ("被仕向銀行名", "C", 15),
    ("被仕向支店番号", "N", 3),
    ("被仕向支店名", "C", 15),
    ("手形交換所番号", "N", 4),
    ("預金種目", "N", 1),
    ("口座番号", "N", 7),
    ("受取人名", "C", 30),
    ("振込金額", "N", 10),
    ("新規コード", "N", 1),
    ("顧客コード1", "N", 10),
    ("顧客コード2", "N", 10),
    ("振込指定区分", "N", 1),
    ("識別表示", "C", 1),
    ("ダミー", "C", 7),
)
# The result file: the data record with 振込結果コード in the first byte of its dummy area.
RESULT = (*DATA[:-1], ("振込結果コード", "N", 1), ("ダミー", "C", 6))
TRAILER = (("データ区分", "N", 1), ("合計件数", "N", 6), ("合計金額", "N", 12), ("ダミー", "C", 101))
END = (("データ区分", "N", 1), ("ダミー", "C", 119))


def _field(name: str, kind: str, length: int, value: str) -> bytes:
    if kind == "N":
        if not value.isascii() or not value.isdigit() or len(value) > length:
            raise ZenginError(f"{name}: not a number of at most {length} digits")
        return value.zfill(length).encode("ascii")
    try:
        encoded = value.encode("cp932")
    except UnicodeEncodeError:
        raise ZenginError(f"{name}: a character the bank's character set does not have") from None
    if len(encoded) != len(value):  # a full-width character took two bytes
        raise ZenginError(f"{name}: a full-width character (half-width only)")
    if len(encoded) > length:
        raise ZenginError(f"{name}: longer than {length} characters")
    return encoded.ljust(length, b" ")


def _record(layout: Sequence[tuple[str, str, int]], values: Sequence[str]) -> bytes:
    record = b"".join(_field(*spec, value) for spec, value in zip(layout, values, strict=True))
    assert len(record) == RECORD_LENGTH, layout  # the tables add up to 120
    return record


def bank_names(bank_code: str, branch_code: str) -> tuple[str, str]:
    """The bank's and the branch's kana names as the file writes them (zengin-code's, half-width), or
    ZenginError when zengin-code does not know the code: money must not leave for an unknown bank.
    The message names the field, not the code (a payee's account is theirs)."""
    bank = _banks().get(bank_code)
    if bank is None:
        raise ZenginError("銀行番号: not in the banks' code list")
    branch = bank.branches.get(branch_code)
    if branch is None:
        raise ZenginError("支店番号: not in the banks' code list for its bank")
    return holder_kana(bank.kana)[:15], holder_kana(branch.kana)[:15]


def check_name(name: str, field: str, length: int) -> None:
    """A name must already be in the bank's character set, as Payee and PayoutSetup store it: the
    writer converts nothing, it refuses."""
    if not name or name != " ".join(name.split()) or not set(name) <= HOLDER_CHARSET:
        raise ZenginError(f"{field}: not in the bank's half-width character set")
    if len(name) > length:
        raise ZenginError(f"{field}: longer than {length} characters")


def write(payer: Payer, transfer_date: date, transfers: Sequence[Transfer]) -> bytes:
    """The whole file, CRLF after every record. Refuses an empty batch, more than MAX_RECORDS
    transfers, a day banks are closed, unknown bank codes and names outside the character set."""
    if not transfers:
        raise ZenginError("no transfers")
    if len(transfers) > MAX_RECORDS:
        raise ZenginError(f"{len(transfers)} transfers; at most {MAX_RECORDS} in one file")
    if not is_business_day(transfer_date):
        raise ZenginError("振込指定日: banks are closed that day")
    check_name(payer.requester_name, "振込依頼人名", 40)
    bank_name, branch_name = bank_names(payer.bank_code, payer.branch_code)
    records = [
        _record(
            HEADER,
            [
                "1",
                KIND,
                "0",
                payer.requester_code,
                payer.requester_name,
                transfer_date.strftime("%m%d"),
                payer.bank_code,
                bank_name,
                payer.branch_code,
                branch_name,
                payer.account_type,
                payer.account_number,
                "",
            ],
        )
    ]
    total = 0
    for number, transfer in enumerate(transfers, start=2):
        try:
            check_name(transfer.name, "受取人名", 30)
            if not 0 < transfer.amount <= MAX_AMOUNT:
                raise ZenginError("振込金額: must be more than 0 yen")
            bank_name, branch_name = bank_names(transfer.bank_code, transfer.branch_code)
            records.append(
                _record(
                    DATA,
                    [
                        "2",
                        transfer.bank_code,
                        bank_name,
                        transfer.branch_code,
                        branch_name,
                        "0",
                        transfer.account_type,
                        transfer.account_number,
                        transfer.name,
                        str(transfer.amount),
                        "0",  # 新規コード: その他
                        str(transfer.customer_code1),
                        str(transfer.customer_code2),
                        "7",  # 振込指定区分: 電信
                        " ",  # 識別表示: customer codes, not EDI
                        "",
                    ],
                )
            )
        except ZenginError as error:
            raise ZenginError(f"record {number} (payout {transfer.customer_code1}): {error}") from None
        total += transfer.amount
    records.append(_record(TRAILER, ["8", str(len(transfers)), str(total), ""]))
    records.append(_record(END, ["9", ""]))
    return b"".join(record + EOL for record in records)


# --- Reader of the bank's result file -----------------------------------------------------------------
@dataclass(frozen=True)
class Result:
    record: int  # its place in the file, from 1
    payout: int  # 顧客コード1
    batch: int  # 顧客コード2
    bank_code: str
    branch_code: str
    account_type: str
    account_number: str
    amount: int
    code: str  # 振込結果コード


@dataclass(frozen=True)
class ResultFile:
    requester_code: str
    transfer_date: str  # MMDD
    results: list[Result]


def _slices(layout: Sequence[tuple[str, str, int]], record: bytes) -> dict[str, str]:
    out: dict[str, str] = {}
    at = 0
    for name, _kind, length in layout:
        out.setdefault(name, record[at : at + length].decode("cp932"))
        at += length
    return out


def read_results(data: bytes) -> ResultFile:
    """The bank's result file: the layout we sent, each data record carrying its 振込結果コード.
    ZenginError names the first records and fields that break the format."""
    problems = validate(data, results=True)
    if problems:
        more = f" (and {len(problems) - 3} more)" if len(problems) > 3 else ""
        raise ZenginError("; ".join(str(problem) for problem in problems[:3]) + more)
    records = split(data)
    header = _slices(HEADER, records[0])
    results = []
    for number, record in enumerate(records[1:-2], start=2):
        fields = _slices(RESULT, record)
        if fields["振込結果コード"] not in RESULT_CODES:
            raise ZenginError(f"record {number} (data), 振込結果コード: not one of {', '.join(RESULT_CODES)}")
        if not (fields["顧客コード1"].isdigit() and fields["顧客コード2"].isdigit()):
            raise ZenginError(f"record {number} (data), 顧客コード1/2: not the numbers owabi wrote")
        results.append(
            Result(
                record=number,
                payout=int(fields["顧客コード1"]),
                batch=int(fields["顧客コード2"]),
                bank_code=fields["被仕向銀行番号"],
                branch_code=fields["被仕向支店番号"],
                account_type=fields["預金種目"],
                account_number=fields["口座番号"],
                amount=int(fields["振込金額"]),
                code=fields["振込結果コード"],
            )
        )
    return ResultFile(header["振込依頼人コード"], header["振込指定日"], results)
