"""全銀協 総合振込 files: the writer's layout byte by byte, the validator (written apart from the writer)
passing every file the writer makes and failing hand-broken ones by record and field, bank business
days, and the reader of the bank's result file. No database."""

from __future__ import annotations

import ast
from datetime import date
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from owabi.redress import zengin, zengin_check
from owabi.redress.payees import _banks, holder_kana
from owabi.redress.zengin import Payer, Transfer, ZenginError
from owabi.redress.zengin_check import validate

PAYER = Payer("1234567890", "ｶ)ｻﾝﾌﾟﾙﾘﾖｺｳ", "0005", "001", "1", "1234567")
MONDAY = date(2027, 1, 4)
TRANSFERS = [
    Transfer("0001", "001", "1", "0001234", "ﾔﾏﾀﾞ ﾀﾛｳ", 1100, 1, 7),
    Transfer("9900", "019", "1", "1234567", "ｺﾊﾞﾔｼ ﾏｺﾄ", 25_000, 2, 7),
    Transfer("0009", "001", "2", "7654321", "ｶ)ﾃｽﾄ", 3, 3, 7),
]


def _records(data: bytes) -> list[bytes]:
    assert data.endswith(b"\r\n")
    return data[:-2].split(b"\r\n")


def _problems(data: bytes, **kwargs: bool) -> list[str]:
    return [str(problem) for problem in validate(data, **kwargs)]


def test_it_writes_a_header_data_records_a_trailer_and_an_end_record_of_120_bytes() -> None:
    data = zengin.write(PAYER, MONDAY, TRANSFERS)
    records = _records(data)
    assert [len(r) for r in records] == [120] * 6
    assert [r[:1] for r in records] == [b"1", b"2", b"2", b"2", b"8", b"9"]
    header = records[0].decode("cp932")
    assert header[:4] == "1210"  # データ区分, 種別コード 21 (総合振込), コード区分 0 (JIS)
    assert header[4:14] == "1234567890"
    assert header[14:54] == "ｶ)ｻﾝﾌﾟﾙﾘﾖｺｳ".ljust(40)  # C: left-justified, space-filled
    assert header[54:58] == "0104"  # 振込指定日 MMDD
    assert header[58:62] == "0005" and header[62:77] == "ﾐﾂﾋﾞｼﾕ-ｴﾌｼﾞｴｲ".ljust(15)
    assert header[77:80] == "001" and header[80:95] == "ﾎﾝﾃﾝ".ljust(15)
    assert header[95:103] == "11234567" and header[103:] == " " * 17
    first = records[1].decode("cp932")
    assert first[1:5] == "0001" and first[5:20] == "ﾐｽﾞﾎ".ljust(15)  # zengin-code's kana, half-width
    assert first[20:23] == "001" and first[23:38] == "ﾄｳｷﾖｳ".ljust(15)
    assert first[38:42] == "0000" and first[42] == "1" and first[43:50] == "0001234"
    assert first[50:80] == "ﾔﾏﾀﾞ ﾀﾛｳ".ljust(30)
    assert first[80:90] == "0000001100"  # N: right-justified, zero-filled
    assert first[90] == "0" and first[91:101] == "0000000001" and first[101:111] == "0000000007"
    assert first[111:113] == "7 " and first[113:] == " " * 7
    assert records[4] == b"8" + b"000003" + b"000000026103" + b" " * 101
    assert records[5] == b"9" + b" " * 119
    assert all(b < 0x80 or 0xA1 <= b <= 0xDF for b in data.replace(b"\r\n", b""))  # JIS X 0201 only


def test_the_writer_refuses_what_a_bank_would_refuse() -> None:
    good = TRANSFERS[0]
    for transfer, message in [
        (Transfer("9998", "001", "1", "0000001", "ｱ", 1, 1, 1), "銀行番号: not in the banks' code list"),
        (Transfer("0001", "998", "1", "0000001", "ｱ", 1, 1, 1), "支店番号: not in the banks' code list"),
        (Transfer("0001", "001", "1", "0000001", "ヤマダ", 1, 1, 1), "受取人名: not in the bank's"),
        (Transfer("0001", "001", "1", "0000001", "yamada", 1, 1, 1), "受取人名: not in the bank's"),
        (Transfer("0001", "001", "1", "0000001", "ｷｬﾝ", 1, 1, 1), "受取人名: not in the bank's"),
        (Transfer("0001", "001", "1", "0000001", "ｱ" * 31, 1, 1, 1), "受取人名: longer than 30"),
        (Transfer("0001", "001", "1", "0000001", "ｱ", 0, 1, 1), "振込金額"),
        (Transfer("0001", "001", "1", "12345678", "ｱ", 1, 1, 1), "口座番号: not a number of at most 7"),
    ]:
        with pytest.raises(ZenginError, match=message) as raised:
            zengin.write(PAYER, MONDAY, [good, transfer])
        assert "record 3 (payout 1)" in str(raised.value)
    with pytest.raises(ZenginError, match="banks are closed"):
        zengin.write(PAYER, date(2027, 1, 1), [good])
    with pytest.raises(ZenginError, match="no transfers"):
        zengin.write(PAYER, MONDAY, [])
    with pytest.raises(ZenginError, match="at most 9999 in one file"):
        zengin.write(PAYER, MONDAY, [good] * (zengin.MAX_RECORDS + 1))
    with pytest.raises(ZenginError, match="振込依頼人名"):
        zengin.write(Payer("1", "ｻﾝﾌﾟﾙ株式会社", "0005", "001", "1", "1"), MONDAY, [good])


def test_every_bank_and_branch_name_in_zengin_code_fits_the_file() -> None:
    for code, bank in _banks().items():
        for branch_code in bank.branches:
            bank_name, branch_name = zengin.bank_names(code, branch_code)
            assert 0 < len(bank_name) <= 15 and 0 < len(branch_name) <= 15
            assert holder_kana(bank_name) == bank_name and holder_kana(branch_name) == branch_name


_BANK_BRANCHES = sorted(
    (code, branch) for code, bank in _banks().items() for branch in list(bank.branches)[:3]
)
_NAME_CHARS = "ｱｲｳｴｵｶｷｸｹｺｻｼｽｾｿﾀﾁﾂﾃﾄﾅﾆﾇﾈﾉﾊﾋﾌﾍﾎﾏﾐﾑﾒﾓﾔﾕﾖﾗﾘﾙﾚﾛﾜｦﾝﾞﾟABCXYZ0189()-./"
_transfers = st.builds(
    lambda where, type_, number, name, amount, code: Transfer(
        where[0], where[1], type_, f"{number:07d}", name, amount, code, 1
    ),
    st.sampled_from(_BANK_BRANCHES),
    st.sampled_from("1249"),
    st.integers(0, 9_999_999),
    st.text(_NAME_CHARS, min_size=1, max_size=30).map(lambda s: " ".join(s.split()) or "ｱ"),
    st.integers(1, 10_000_000),
    st.integers(1, 9_999_999_999),
)


@settings(max_examples=60, deadline=None)
@given(st.lists(_transfers, min_size=1, max_size=40), st.dates(date(2026, 1, 1), date(2030, 12, 31)))
def test_every_file_the_writer_makes_passes_the_validator(transfers: list[Transfer], day: date) -> None:
    day = zengin.next_business_day(day)
    data = zengin.write(PAYER, day, transfers)
    assert validate(data) == []
    # The bank answers in the same layout with a result code: the reader gives back what was sent.
    answered = b"".join(
        r[:113] + b"0" + r[114:] + b"\r\n" if r[:1] == b"2" else r + b"\r\n" for r in _records(data)
    )
    back = zengin.read_results(answered)
    assert back.transfer_date == day.strftime("%m%d") and back.requester_code == PAYER.requester_code
    assert [(r.bank_code, r.branch_code, r.account_number, r.amount, r.payout) for r in back.results] == [
        (t.bank_code, t.branch_code, t.account_number, t.amount, t.customer_code1) for t in transfers
    ]


def _broken(change: str) -> bytes:
    """The writer's file, broken by hand the way a bad tool or a hurried person would."""
    records = _records(zengin.write(PAYER, MONDAY, TRANSFERS))
    name = "ﾔﾏﾀﾞ ﾀﾛｳ".encode("cp932")
    if change == "short record":
        records[2] = records[2][:119]
    elif change == "full-width in place":  # ﾔﾏ (2 bytes) becomes ヤ (2 bytes): still 120 bytes
        records[1] = records[1].replace(name, "ヤﾀﾞ ﾀﾛｳ".encode("cp932"))
    elif change == "full-width added":
        records[1] = records[1].replace(name, "ヤﾏﾀﾞ ﾀﾛｳ".encode("cp932"))[:121]
    elif change == "lower-case name":
        records[1] = records[1].replace(name, b"yamada t")
    elif change == "small kana":
        records[1] = records[1].replace(name, "ｷｬﾀﾞ ﾀﾛｳ".encode("cp932"))
    elif change == "wrong total":
        records[4] = records[4].replace(b"000000026103", b"000000026104")
    elif change == "wrong count":
        records[4] = records[4].replace(b"000003", b"000004")
    elif change == "missing trailer":
        del records[4]
    elif change == "missing end":
        del records[5]
    elif change == "record after the end":
        records.append(records[1])
    elif change == "letters in an amount":
        records[2] = records[2][:80] + b"00000O5000" + records[2][90:]
    elif change == "wrong kind":
        records[0] = records[0][:1] + b"11" + records[0][3:]
    elif change == "no such date":
        records[0] = records[0][:54] + b"0230" + records[0][58:]
    elif change == "a dummy that is not blank":
        records[3] = records[3][:119] + b"X"
    elif change == "right-justified name":
        records[1] = records[1][:50] + b" " + records[1][50:79] + records[1][80:]
    return b"".join(record + b"\r\n" for record in records)


@pytest.mark.parametrize(
    ("change", "says"),
    [
        ("short record", "record 3: (data) 119 bytes"),
        ("full-width in place", "record 2: (data), 受取人名 (bytes 51-80): byte 51 is a full-width"),
        ("full-width added", "record 2: (data) 121 bytes, with a full-width (double-byte) character"),
        ("lower-case name", "record 2: (data), 受取人名 (bytes 51-80): byte 51 is a lower-case Latin"),
        ("small kana", "record 2: (data), 受取人名 (bytes 51-80): byte 52 is a small kana"),
        (
            "wrong total",
            "record 5: (trailer), 合計金額 (bytes 8-19): 26104, but the data records sum to 26103",
        ),
        ("wrong count", "record 5: (trailer), 合計件数 (bytes 2-7): 4, but 3 data records"),
        ("missing trailer", "record 5: データ区分: a data record (2) or the trailer (8) belongs here"),
        ("missing end", "record 6: missing: the file ends without the end record (9)"),
        ("record after the end", "record 7: a record after the end record (9)"),
        ("letters in an amount", "record 3: (data), 振込金額 (bytes 81-90): not all digits"),
        ("wrong kind", "record 1: (header), 種別コード (bytes 2-3): must be 21"),
        ("no such date", "record 1: (header), 振込指定日 (bytes 55-58): not a date"),
        ("a dummy that is not blank", "record 4: (data), ダミー (bytes 114-120): must be spaces"),
        ("right-justified name", "record 2: (data), 受取人名 (bytes 51-80): starts with a space"),
    ],
)
def test_a_hand_broken_file_fails_naming_the_record_and_field(change: str, says: str) -> None:
    problems = _problems(_broken(change))
    assert any(says in problem for problem in problems), problems
    assert not any("ﾔﾏﾀﾞ" in problem or "yamada" in problem for problem in problems)  # never the value


def test_line_ends_other_than_crlf_and_files_without_any_are_told_apart() -> None:
    data = zengin.write(PAYER, MONDAY, TRANSFERS)
    assert _problems(data.replace(b"\r\n", b"\n")) == [
        "record 1: a line end that is not CRLF (banks refuse CR or LF alone)"
    ]
    assert _problems(data[:-2]) == ["record 6: the last record does not end with CRLF"]
    assert validate(data.replace(b"\r\n", b"")) == []  # 120-byte records back to back are the format too
    assert _problems(data.replace(b"\r\n", b"")[:-1]) == [
        "719 bytes without line ends: not whole 120-byte records"
    ]
    assert _problems(b"") == ["the file is empty"]


def test_the_validator_is_written_apart_from_the_writer() -> None:
    tree = ast.parse(Path(zengin_check.__file__).read_text(encoding="utf-8"))
    imported = {node.module or "" for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)} | {
        alias.name for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names
    }
    assert not any(name.startswith("owabi") for name in imported), imported


@pytest.mark.parametrize(
    ("day", "open_"),
    [
        (date(2027, 1, 4), True),  # Monday
        (date(2027, 1, 9), False),  # Saturday
        (date(2027, 1, 10), False),  # Sunday
        (date(2027, 1, 11), False),  # 成人の日
        (date(2026, 5, 6), False),  # 振替休日 (憲法記念日 fell on a Sunday)
        (date(2026, 9, 22), False),  # 国民の休日 between 敬老の日 and 秋分の日
        (date(2026, 12, 30), True),
        (date(2026, 12, 31), False),  # banks' year-end holidays, 12/31 to 1/3
        (date(2027, 1, 1), False),
        (date(2027, 1, 2), False),
        (date(2028, 1, 3), False),  # a Monday, and still closed
        (date(2028, 1, 4), True),
    ],
)
def test_bank_business_days(day: date, open_: bool) -> None:
    assert zengin.is_business_day(day) is open_


def test_a_closed_day_moves_to_the_next_business_day() -> None:
    assert zengin.next_business_day(date(2026, 12, 30)) == date(2026, 12, 30)
    assert zengin.next_business_day(date(2026, 12, 31)) == date(2027, 1, 4)
    assert zengin.next_business_day(date(2027, 5, 1)) == date(2027, 5, 6)  # Golden Week


def test_the_result_reader_wants_a_known_result_code_and_the_codes_owabi_wrote() -> None:
    records = _records(zengin.write(PAYER, MONDAY, TRANSFERS))
    answered = [r[:113] + b"2" + r[114:] if r[:1] == b"2" else r for r in records]
    back = zengin.read_results(b"".join(r + b"\r\n" for r in answered))
    assert [r.code for r in back.results] == ["2", "2", "2"]
    assert validate(b"".join(r + b"\r\n" for r in answered))  # not a transfer file: the result code is there
    unknown = [r[:113] + b"7" + r[114:] if r[:1] == b"2" else r for r in records]
    with pytest.raises(ZenginError, match=r"record 2 \(data\), 振込結果コード: not one of"):
        zengin.read_results(b"".join(r + b"\r\n" for r in unknown))
    with pytest.raises(
        ZenginError, match=r"record 2: \(data\), 振込結果コード \(bytes 114-114\): not all digits"
    ):
        zengin.read_results(b"".join(r + b"\r\n" for r in records))
