"""`digest subscribers …`: see, edit, import and export the subscriber lists; suppressions.

`add`, `remove` and `import` edit the operator's CSV list (the first one in
`[subscribers] lists`, or `--list`), holding the run lock so no send reads a half-written row.
What subscribers decide themselves (unsubscribe, preferences) lives in the state database and
always wins; `restore` is the only way back from a suppression.

Exit codes: 0 done; 1 nothing done (already listed, suppressed, not found, bad rows skipped
on import); 2 bad input (an invalid address or topic, a missing --yes, an unreadable file).
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
from datetime import UTC, datetime
from pathlib import Path

from digest import pipeline
from digest.audience import lists
from digest.audience.signup import WEB_LIST
from digest.audience.subscribers import (
    LoadStats,
    address_key,
    load_subscribers,
    normalize_address,
    parse_subscriber,
    read_list,
)
from digest.cli.options import (
    EXIT_BAD_INPUT,
    EXIT_FAILURES,
    EXIT_OK,
    Commands,
    Options,
    add_command,
)
from digest.config import Config, load_config
from digest.errors import InputError, SubscriberError
from digest.model import Subscriber
from digest.store import Store
from digest.store.convert import iso
from digest.store.lock import hold_lock


def cmd_list(args: argparse.Namespace) -> int:
    """List the subscribers with their status (active, pending, unsubscribed) and source
    (csv: a list file or an import; web: signed up): the active ones first, as the next send
    reads them (with their own preferences), then the database's pending and unsubscribed."""
    config = load_config(args.config)
    count = 0
    with Store.open(config.database_path) as store:
        rows = []
        for s in pipeline.subscribers(config, store):
            count += 1
            source = "web" if s.list_name == WEB_LIST else "csv"
            rows.append(("active", source, s.email, s.name, s.topics, s.frequency, s.list_name))
        blocked = store.blocked()
        for r in store.subscriber_rows():
            if r.status != "active" or r.email in blocked:
                shown: str = "unsubscribed" if r.email in blocked else r.status
                rows.append((shown, r.source, r.email, r.name, r.topics, r.frequency, ""))
        suppressed = len(store.suppressed())
    for status, source, email, name, topics, frequency, list_name in rows:
        if args.json:
            print(json.dumps({"email": email, "name": name, "topics": list(topics),
                              "frequency": frequency, "list": list_name, "status": status,
                              "source": source}))
        else:
            print("\t".join(_shown(cell) for cell in (
                email, status, source, frequency, ";".join(topics) or "all topics",
                list_name or "-", name)))
    print(f"{count} active subscribers; {suppressed} suppressed addresses not shown "
          "(digest subscribers suppressed).", file=sys.stderr)
    return EXIT_OK


def cmd_pending(args: argparse.Namespace) -> int:
    """List the addresses that signed up on the web and have not confirmed (they get nothing)."""
    config = load_config(args.config)
    with Store.open(config.database_path) as store:
        rows = [(r, store.signups_of(r.email)) for r in store.subscriber_rows("pending")]
    for row, signups in rows:
        mailed = max((s.mailed for s in signups if s.mailed), default=None)
        if args.json:
            print(json.dumps({"email": row.email, "name": row.name, "since": iso(row.created),
                              "last_mailed": iso(mailed) if mailed else None,
                              "requests": len(signups)}))
        else:
            last = f"{mailed:%Y-%m-%d %H:%M}" if mailed else "never"
            print(f"{row.email}\tsince {row.created:%Y-%m-%d %H:%M}\tlast link mailed {last}"
                  f"\t{len(signups)} requests\t{row.name}")
    print(f"{len(rows)} pending (unconfirmed) addresses.", file=sys.stderr)
    return EXIT_OK


def cmd_add(args: argparse.Namespace) -> int:
    """Add one subscriber to a list file, checked like every list row."""
    config = load_config(args.config)
    target = _target(config, args.list)
    try:
        subscriber = parse_subscriber(
            {"email": args.address, "name": args.name or "", "topics": args.topics or "",
             "frequency": args.frequency or ""},
            _topics(config), target.stem)
    except SubscriberError as e:
        raise InputError(f"{str(e).rstrip('.')}; nothing was added") from e
    with hold_lock(config.database_path), Store.open(config.database_path) as store:
        suppression = store.suppression(subscriber.email)
        if suppression:
            print(f"{subscriber.email} is suppressed since {suppression.created:%Y-%m-%d %H:%M} "
                  f"UTC ({suppression.reason}); not added. If they asked to come back: "
                  f"digest subscribers restore {subscriber.email} --yes", file=sys.stderr)
            return EXIT_FAILURES
        if store.is_forgotten(subscriber.email):
            print(f"{subscriber.email} had all its data deleted at its owner's request; not "
                  "added. Only they can come back, by signing up again.", file=sys.stderr)
            return EXIT_FAILURES
        where = _where_listed(config, subscriber.email)
        if where:
            print(f"{subscriber.email} is already listed at {where}; nothing added.",
                  file=sys.stderr)
            return EXIT_FAILURES
        lists.append(target, [subscriber])
    print(f"Added {subscriber.email} to {target}.")
    return EXIT_OK


def cmd_remove(args: argparse.Namespace) -> int:
    """Remove an address from every list file (--suppress: and never send to it again)."""
    config = load_config(args.config)
    email = _address(args.address)
    removed = []
    with hold_lock(config.database_path), Store.open(config.database_path) as store:
        for path in config.subscriber_lists:
            removed += [f"{path}:{n}" for n in lists.remove(path, email)]
        if args.suppress:
            store.suppress(email, "suppressed by hand (digest subscribers remove --suppress)",
                           datetime.now(UTC))
    for where in removed:
        print(f"Removed {email} from {where}.")
    if args.suppress:
        print(f"Suppressed {email}: nothing will be sent to it, whatever the lists say.")
    if not removed and not args.suppress:
        print(f"{email} is in none of the lists; nothing removed.", file=sys.stderr)
        return EXIT_FAILURES
    return EXIT_OK


def cmd_import(args: argparse.Namespace) -> int:
    """Add the valid new rows of a CSV file to a list (or with --database, to the state
    database); bad rows are reported and skipped, suppressed and deleted addresses too."""
    config = load_config(args.config)
    target = _target(config, args.list)
    if not args.file.is_file():
        raise InputError(f"{args.file}: no such file")
    stats = LoadStats()
    added = listed = suppressed = 0
    with hold_lock(config.database_path), Store.open(config.database_path) as store:
        blocked = store.blocked()  # suppressed (in any case), or deleted at their owner's wish
        known = {address_key(s.email) for s in load_subscribers(config.subscriber_lists)}
        known |= {address_key(r.email) for r in store.subscriber_rows()}
        fresh = []

        def save(rows: list[Subscriber]) -> int:
            if args.database:
                return store.import_subscribers(rows, datetime.now(UTC))
            return lists.append(target, rows)

        try:
            for _, s in read_list(args.file, _topics(config), stats):
                key = address_key(s.email)
                if key in known:
                    listed += 1
                elif key in blocked:
                    suppressed += 1
                    print(f"{_shown(s.email)} is suppressed; not imported", file=sys.stderr)
                else:
                    known.add(key)
                    fresh.append(s)
                if len(fresh) >= 10_000:  # bounded memory for huge imports
                    added += save(fresh)
                    fresh = []
        except SubscriberError as e:
            raise InputError(str(e)) from e
        added += save(fresh)
    where = "the state database" if args.database else target
    print(f"{args.file}: {added} added to {where}, {listed} already listed, {suppressed} "
          f"suppressed, {stats.skipped} bad rows skipped.")
    return EXIT_FAILURES if stats.skipped else EXIT_OK


def cmd_export(args: argparse.Namespace) -> int:
    """Write the active subscribers as CSV (email,name,topics,frequency), preferences applied."""
    config = load_config(args.config)
    out = args.out.open("w", encoding="utf-8", newline="") if args.out else sys.stdout
    try:
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(["email", "name", "topics", "frequency"])
        with Store.open(config.database_path) as store:
            count = 0
            for s in pipeline.subscribers(config, store):
                writer.writerow([_inert(cell) for cell in
                                 (s.email, s.name, ";".join(s.topics), s.frequency)])
                count += 1
    finally:
        if args.out:
            out.close()
    print(f"{count} subscribers exported" + (f" to {args.out}." if args.out else "."),
          file=sys.stderr)
    return EXIT_OK


def cmd_suppressed(args: argparse.Namespace) -> int:
    """List the suppressed addresses: when and why (unsubscribed, bounced, by hand)."""
    config = load_config(args.config)
    with Store.open(config.database_path) as store:
        rows = store.suppressions()
    if args.json:
        print(json.dumps([{"email": r.email, "reason": r.reason,
                           "since": r.created.isoformat()} for r in rows]))
        return EXIT_OK
    for r in rows:
        print(f"{r.created:%Y-%m-%d %H:%M}  {r.email}  {r.reason}")
    print(f"{len(rows)} suppressed addresses.", file=sys.stderr)
    return EXIT_OK


def cmd_restore(args: argparse.Namespace) -> int:
    """Send to a suppressed address again; says why it was suppressed and asks for --yes."""
    config = load_config(args.config)
    email = _address(args.address)
    with hold_lock(config.database_path), Store.open(config.database_path) as store:
        suppression = store.suppression(email)
        if suppression is None:
            print(f"{email} is not suppressed; nothing to restore.", file=sys.stderr)
            return EXIT_FAILURES
        why = f"{email} was suppressed on {suppression.created:%Y-%m-%d %H:%M} UTC: " \
              f"{suppression.reason}."
        if not args.yes:
            print(f"{why}\nRestore only if they asked to be sent to again: run again with --yes.",
                  file=sys.stderr)
            return EXIT_BAD_INPUT
        evidence = store.evidence(email)
        if evidence is not None and evidence.kind == "complaint" and not args.force:
            # mailing a reader who reported us as spam is what providers punish hardest
            print(f"{why}\nThey marked an edition as spam ({evidence.evidence}); restore only "
                  "if they asked for it in writing: run again with --yes --force.",
                  file=sys.stderr)
            return EXIT_BAD_INPUT
        store.restore(email)
    print(f"{why}\nRestored: {email} gets the next edition if a list names it.")
    return EXIT_OK


def _shown(text: str) -> str:
    """Text safe to print on a terminal: control characters (escape sequences, tabs, line
    breaks) written as escapes, never interpreted."""
    if text.isprintable():
        return text
    return "".join(c if c.isprintable() else c.encode("unicode_escape").decode("ascii")
                   for c in text)


def _inert(cell: str) -> str:
    """A CSV cell a spreadsheet will not run: one starting with =, +, -, @, tab or CR is
    prefixed with an apostrophe (OWASP's advice against formula injection)."""
    return "'" + cell if cell.startswith(("=", "+", "-", "@", "\t", "\r")) else cell


def _address(text: str) -> str:
    try:
        return normalize_address(text)
    except SubscriberError as e:
        raise InputError(str(e)) from e


def _topics(config: Config) -> dict[str, str]:
    return {t.lower(): t for t in config.topics}


def _target(config: Config, chosen: str | None) -> Path:
    """The list file to write: --list (a path or a configured list's name), or the first."""
    configured = config.subscriber_lists
    if not chosen:
        if not configured:
            raise InputError("[subscribers] lists is empty; name a list file with --list")
        return configured[0]
    for path in configured:
        if chosen in (path.stem, path.name, str(path)):
            return path
    return Path(chosen).resolve()


def _where_listed(config: Config, email: str) -> str | None:
    for path in config.subscriber_lists:
        if not path.exists():
            continue
        for line, s in read_list(path, None, quiet=True):
            if address_key(s.email) == address_key(email):
                return f"{path}:{line}"
    return None


def register(commands: Commands, options: Options) -> None:
    """Add `digest subscribers …` to the parser."""
    group = commands.add_parser(
        "subscribers", help="see and edit the subscriber lists and the suppressions",
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = group.add_subparsers(dest="subcommand", required=True, metavar="SUBCOMMAND")
    add_command(sub, "list", cmd_list, options.common, options.json)
    add = add_command(sub, "add", cmd_add, options.common)
    add.add_argument("address")
    add.add_argument("--name", help="the subscriber's name")
    add.add_argument("--topics", metavar="A;B", help="section names separated by ';' (all: none)")
    add.add_argument("--frequency", choices=("daily", "weekly"), help="default: daily")
    add.add_argument("--list", metavar="LIST", help="the list file (default: the first listed)")
    remove = add_command(sub, "remove", cmd_remove, options.common)
    remove.add_argument("address")
    remove.add_argument("--suppress", action="store_true",
                        help="also suppress the address (never send to it again)")
    imp = add_command(sub, "import", cmd_import, options.common)
    imp.add_argument("file", type=Path, metavar="FILE")
    imp.add_argument("--list", metavar="LIST", help="the list file (default: the first listed)")
    imp.add_argument("--database", action="store_true",
                     help="copy the rows into the state database (active, source csv) instead "
                          "of a list file")
    add_command(sub, "pending", cmd_pending, options.common, options.json)
    export = add_command(sub, "export", cmd_export, options.common)
    export.add_argument("--out", type=Path, help="write here instead of standard output")
    add_command(sub, "suppressed", cmd_suppressed, options.common, options.json)
    restore = add_command(sub, "restore", cmd_restore, options.common)
    restore.add_argument("address")
    restore.add_argument("--yes", action="store_true", help="confirm the restore")
    restore.add_argument("--force", action="store_true",
                         help="also lift a suppression made by a spam complaint")
