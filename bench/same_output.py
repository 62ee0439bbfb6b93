"""Check that a refactoring changes no result: run the pipeline on a synthetic incident and write what it
decided (clusters, and every notice's content with the random code left out), then compare two runs.

    .venv/bin/python bench/same_output.py --out /tmp/before [--records 20000] [--seed 7]
    ... change the code ...
    .venv/bin/python bench/same_output.py --out /tmp/after --compare /tmp/before

Runs `owabi` as an operator would (synth, import, resolve, export clusters, notices setup, prepare) on a
fresh SQLite database in the output folder, from the checkout this script lies in. Prints the timing of each
stage, and with --compare the first difference, exiting 1 when the two runs differ.
"""

from __future__ import annotations

import argparse
import filecmp
import os
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent

DUMP = """
import json, sys
from owabi.notices.models import Notice
from owabi.records.models import Membership
lines = {}
for recipient, line in Membership.objects.values_list("subject__recipient_id", "record__line_no"):
    lines.setdefault(recipient, []).append(line)
rows = []
for notice in Notice.objects.filter(incident__slug="same").iterator():
    rows.append(json.dumps({"records": sorted(lines.get(notice.recipient_id, [])), "channel": notice.channel,
        "language": notice.language, "content": notice.content}, ensure_ascii=False, sort_keys=True))
sys.stdout.write("\\n".join(sorted(rows)) + "\\n")
"""


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--records", type=int, default=20_000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--compare", type=Path, help="an earlier --out to compare with")
    args = parser.parse_args()
    out: Path = args.out.resolve()
    out.mkdir(parents=True, exist_ok=True)
    env = {
        **os.environ,
        "OWABI_DATA_DIR": str(out / "data"),
        "DATABASE_URL": f"sqlite:///{out / 'same.sqlite3'}",
    }
    env.pop("OWABI_ENV", None)
    (out / "same.sqlite3").unlink(missing_ok=True)
    steps = [
        ["incident", "create", "--slug", "same", "--name", "same output", "--discovered-on", "2026-11-01"],
        ["synth", "--records", str(args.records), "--seed", str(args.seed), "--out", str(out / "leak.csv")],
        ["import", str(out / "leak.csv"), "--incident", "same"],
        ["resolve", "--incident", "same"],
        ["export", "clusters", "--incident", "same", "--out", str(out / "clusters.csv")],
        ["notices", "setup", "--incident", "same", "--from", str(REPO / "docs/notice-setup.demo.toml")],
        ["notices", "prepare", "--incident", "same"],
    ]
    for step in steps:
        started = time.monotonic()
        subprocess.run(
            [sys.executable, "-m", "owabi", *step], env=env, cwd=REPO, check=True, capture_output=True
        )
        print(f"{step[0]:<10} {time.monotonic() - started:6.1f} s", flush=True)
    dump = subprocess.run(
        [sys.executable, "-m", "owabi", "shell", "-c", DUMP],
        env=env,
        cwd=REPO,
        check=True,
        capture_output=True,
    )
    # Only the notices: Django's shell may print a line of its own first (how many models it imported).
    rows = [line for line in dump.stdout.splitlines() if line.startswith(b"{")]
    (out / "notices.jsonl").write_bytes(b"\n".join(rows) + b"\n")
    print(f"notices    {len(rows)}")
    if args.compare:
        differ = [
            name
            for name in ("clusters.csv", "notices.jsonl")
            if not filecmp.cmp(out / name, args.compare / name, shallow=False)
        ]
        for name in differ:
            print(f"DIFFERENT: {name} (diff {args.compare / name} {out / name})")
        if differ:
            raise SystemExit(1)
        print("same clusters, same notices")


if __name__ == "__main__":
    main()
