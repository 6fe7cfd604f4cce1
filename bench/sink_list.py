"""How long the sink's web view takes to list a big Maildir, cold and cached.

Fills a temporary Maildir with N copies of a 25 KB newsletter-like message (default 2000),
then times `CapturedMailbox.list()` the first time (every header block read and decoded) and
the second (summaries cached per key), and `check_message` on one message.

    .venv/bin/python bench/sink_list.py [N]
"""

from __future__ import annotations

import mailbox
import sys
import tempfile
import time
from email.message import EmailMessage
from pathlib import Path

from digest.sink.mailbox import CapturedMailbox
from digest.sink.mailcheck import check_message


def sample() -> bytes:
    stories = "".join(
        f'<h2><a href="https://news.example.com/{i}">Story number {i} about the day</a></h2>'
        f'<p>{"A paragraph of summary text. " * 30}</p>' for i in range(20))
    msg = EmailMessage()
    msg["From"] = "Daily <daily@example.com>"
    msg["To"] = "Ada Lovelace <ada@example.com>"
    msg["Subject"] = "Daily, Wednesday: Story number 0 about the day"
    msg["List-Unsubscribe"] = "<https://news.example.com/u?t=abc>"
    msg["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    msg.set_content("\n".join(f"Story number {i} about the day\nhttps://news.example.com/{i}\n"
                              for i in range(20)))
    msg.add_alternative(f"<html><body>{stories}</body></html>", subtype="html")
    return msg.as_bytes()


def main() -> None:
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 2000
    raw = sample()
    with tempfile.TemporaryDirectory() as folder:
        box = mailbox.Maildir(Path(folder) / "md", create=True)
        for _ in range(count):
            box.add(raw)
        captured = CapturedMailbox(Path(folder) / "md")
        start = time.perf_counter()
        listed = captured.list()
        cold = time.perf_counter() - start
        start = time.perf_counter()
        captured.list()
        warm = time.perf_counter() - start
        message = captured.read(listed[0].key)
        start = time.perf_counter()
        check_message(message.html, message.text, message.headers)
        checks = time.perf_counter() - start
    print(f"{count} messages of {len(raw):,} bytes: first list {cold:.2f} s "
          f"({cold / count * 1e3:.2f} ms a message), cached list {warm:.3f} s "
          f"({cold / warm:.0f}x faster); checks on one message {checks * 1e3:.1f} ms")


if __name__ == "__main__":
    main()
