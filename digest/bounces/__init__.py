"""Bounces: what comes back from a sent edition (bounces, complaints) becomes suppressions.

In: raw messages (from `bounces serve`'s SMTP server or a Maildir/mbox that `bounces scan`
reads), the VERP key, the state database. Out: each message classified (DSN, non-standard
bounce, ARF complaint, auto-reply, unrecognised), tied to the delivery it answers, and the
suppressions the policy asks for, each with its evidence. Modules, one per noun: `verp`
(envelope-sender tokens), `classify` (bytes to a `Report`, pure), `policy` (a report and the
address's history to decisions, pure), `process` (the two together against the store),
`mailbox` (Maildir and mbox scanning, the durable spool), `server` (the SMTP server),
`rates` (per-edition bounce and complaint rates against the lines senders are held to).
"""
