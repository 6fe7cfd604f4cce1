"""The email's figures as the outside checkers see them, for people (the tests assert them).

    .venv/bin/python bench/email_report.py          # needs `npm ci` (node) and spamassassin

Prints:
  1. bytes of HTML as sent for 10 and 30 stories of the real-world corpus's 2023-11-24 feeds;
  2. caniemail's errors (through @jsx-email/doiuse-email) per client for both, counted by
     feature;
  3. SpamAssassin's score (local tests only) of the 30-story edition as a delivered message.
"""

from __future__ import annotations

import collections
import json
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from zoneinfo import ZoneInfo

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "tests"))

from editions import NOW, corpus_edition  # noqa: E402

from digest.deliver.message import Personalizer, Sender, build_message  # noqa: E402
from digest.model import Subscriber  # noqa: E402
from digest.render.budget import render_within_budget, sample_values  # noqa: E402
from digest.render.edition import html_values  # noqa: E402

CORPUS = REPO.parent / "shared" / "corpus" / "feeds"
BASE_URL = "https://news.example.com"


def main() -> None:
    if not CORPUS.is_dir():
        sys.exit(f"the real-world corpus is not at {CORPUS}")
    with tempfile.TemporaryDirectory() as folder:
        for count in (10, 30):
            edition = corpus_edition(CORPUS, count)
            fitted = render_within_budget(edition, REPO / "templates", ZoneInfo("UTC"),
                                          "0123456789abcdef", {"base_url": BASE_URL})
            values = sample_values(BASE_URL, edition.id)
            page = Personalizer(fitted.rendered.html, fitted.rendered.placeholders).fill(
                html_values(values))
            path = Path(folder) / f"corpus-{count}.html"
            path.write_text(page, encoding="utf-8")
            print(f"{count} stories: {fitted.size} bytes of HTML ({fitted.size / 1000:.1f} KB)"
                  f"{', cut to fit' if fitted.cut else ''}; subject: {fitted.rendered.subject}")
            found = subprocess.run(["node", str(REPO / "tests" / "email_support.js"), str(path)],
                                   capture_output=True, text=True, check=True, cwd=REPO)
            for client, result in json.loads(found.stdout).items():
                errors = collections.Counter(re.sub(r" is not supported by .*", "", e)
                                             for e in result["errors"])
                print(f"  {client:24} {sum(errors.values()):3} errors "
                      f"{dict(errors) if errors else ''}")
        spamassassin = shutil.which("spamassassin")
        if spamassassin is None:
            sys.exit("spamassassin is not installed")
        sender = Sender("Morning Brief", "Morning Brief <news@brief.example.com>", BASE_URL,
                        b"a-report-secret-key-of-length")
        message = build_message(fitted.rendered, Subscriber("ada@example.com", "Ada"), sender,
                                NOW)
        report = subprocess.run([spamassassin, "-L", "-t"], input=bytes(message),
                                capture_output=True, check=True,
                                env={"HOME": folder, "PATH": "/usr/bin:/bin"}).stdout.decode()
        score = re.search(r"Content analysis details:\s+\((-?[\d.]+) points", report)
        print(f"SpamAssassin (local tests), 30 stories: {score.group(1) if score else '?'}")


if __name__ == "__main__":
    main()
