"""Sink checks, SpamAssassin: the score a captured message gets from SpamAssassin's local rules.

In: a message's raw bytes and the `spamassassin` executable (or None). Out: a `Check` (see
`digest.sink.mailcheck`) with the score, the threshold and every rule that fired. SpamAssassin runs
as a subprocess (`spamassassin -L -t`: local tests only, no network) with a timeout; when it is
missing, too slow or unreadable the check is a "skip" that says why, never an error.
"""

from __future__ import annotations

import re
import subprocess

from digest.sink.mailcheck import Check, Finding, Verdict

_SCORE = re.compile(r"Content analysis details:\s*\((-?[\d.]+) points?, (-?[\d.]+) required\)")
_RULE = re.compile(r"^\s*(-?\d+(?:\.\d+)?)\s+([A-Z0-9_]+)\s+(.*)$")


def check_spamassassin(raw: bytes, command: str | None, timeout: float = 30.0) -> Check:
    """SpamAssassin's score and rules (`spamassassin -L -t`: local tests only, no network).

    Args:
        raw: the message as sent.
        command: the spamassassin executable, or None when it is not installed.
        timeout: seconds to wait for it.
    Returns:
        fail at or over its spam threshold, warn over half of it, skip when it cannot run.
    """
    name = "SpamAssassin score"
    if command is None:
        return Check("spamassassin", name, "skip", "spamassassin is not installed (apt-get install "
                                   "spamassassin) ")
    try:
        done = subprocess.run([command, "-L", "-t"], input=raw, capture_output=True,
                              timeout=timeout, check=False)
    except subprocess.TimeoutExpired:
        return Check("spamassassin", name, "skip",
                     f"spamassassin did not answer within {timeout:g} s")
    except OSError as e:
        return Check("spamassassin", name, "skip", f"cannot run {command}: {e}")
    out = done.stdout.decode("utf-8", "replace")
    at = out.rfind("Content analysis details:")
    match = _SCORE.match(out, at) if at >= 0 else None
    if match is None:
        err = done.stderr.decode("utf-8", "replace").strip().splitlines()
        return Check("spamassassin", name, "skip", "could not read spamassassin's report"
                     + (f": {err[-1]}" if err else ""))
    score, required = float(match.group(1)), float(match.group(2))
    found: list[Finding] = []
    rest = out[match.end():]
    rule_line = rest.find("\n----")
    table = rest[rule_line + 1:].split("\n")[1:] if rule_line >= 0 else []
    for line in table:
        if not line.strip():
            break  # the table ends at the first blank line
        rule = _RULE.match(line)
        if rule:
            points = float(rule.group(1))
            verdict: Verdict = "fail" if points >= 1 else "warn" if points > 0 else "pass"
            found.append(Finding(verdict, f"{points:+.1f} {rule.group(2)}: {rule.group(3)}"))
        elif found and line.startswith(" " * 10) and line.strip():
            last = found[-1]  # a description wrapped onto the next line
            found[-1] = Finding(last.verdict, f"{last.text} {line.strip()}")
    overall: Verdict = ("fail" if score >= required else
                        "warn" if score >= required / 2 else "pass")
    summary = f"score {score:g}, spam at {required:g}"
    return Check("spamassassin", name, overall, summary, tuple(found))
