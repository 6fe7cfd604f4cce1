"""Benchmark: the instructions rank() executes on N candidates, counted by valgrind's callgrind.

A count of instructions does not move with the machine's load as times do, so two versions of
the code can be compared on a busy machine: run it on each (PYTHONPATH=<other checkout> for the
other). The candidates are bench/rank.py's; they are built once, pickled, and each child (one
that only loads them, one that also ranks them) runs under callgrind with a fixed hash seed;
the difference is rank()'s. Needs valgrind (Debian: apt-get install valgrind); about a minute
for 5,000.

    .venv/bin/python bench/rank_instructions.py          # 5,000 candidates
    .venv/bin/python bench/rank_instructions.py 20000
"""

from __future__ import annotations

import os
import pickle
import re
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))


def child(path: str, ranked: bool) -> None:
    from rank import NOW  # bench/rank.py

    from digest.config import RankingConfig
    from digest.rank.score import rank

    stories = pickle.loads(Path(path).read_bytes())
    if ranked:
        rank(stories, RankingConfig(), NOW, "bench", "Bench")


def instructions(path: str, ranked: bool) -> int:
    run = subprocess.run(
        ["valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null", sys.executable,
         __file__, "--child", path, "1" if ranked else "0"],
        env=os.environ | {"PYTHONHASHSEED": "0"}, capture_output=True, text=True, check=True)
    found = re.search(r"refs:\s+([\d,]+)", run.stderr)
    if found is None:
        raise SystemExit(f"callgrind printed no count:\n{run.stderr[-2000:]}")
    return int(found[1].replace(",", ""))


def main(argv: list[str]) -> None:
    if argv[:1] == ["--child"]:
        child(argv[1], argv[2] == "1")
        return
    from rank import candidates, corpus_stories  # bench/rank.py

    n = int(argv[0]) if argv else 5000
    with tempfile.NamedTemporaryFile(suffix=".pickle") as f:
        f.write(pickle.dumps(candidates(corpus_stories(), n)))
        f.flush()
        count = instructions(f.name, True) - instructions(f.name, False)
    print(f"rank() on {n:,} candidates: {count / 1e6:,.0f} M instructions")


if __name__ == "__main__":
    main(sys.argv[1:])
