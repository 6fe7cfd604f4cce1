"""Deferred deliveries are retried by later runs, including runs of later editions (`digest
send` retries them at its start, `digest run` in a job of its own), until `[smtp]
give_up_after_hours`, after which they are failed with the last reply."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

from conftest import SmtpServer, served_project, serving_smtp
from test_week_replay import DeferringHandler

from digest import pipeline
from digest.config import load_config
from digest.deliver.dispatch import Controls
from digest.service import schedule
from digest.store import Store

ENV = {"DIGEST_SECRET": "a-test-secret-of-enough-length"}
NOW = datetime(2023, 11, 23, 4, 0, tzinfo=UTC)  # Wednesday 22nd, 23:00 in New York
EDITION = "daily-2023-11-22"


def _config(project: Path, feed_server: tuple[str, Path], smtp: SmtpServer, hours: int) -> Path:
    return served_project(project, feed_server, smtp, {
        "retry_backoff_seconds = [60, 300, 900]":
            f"retry_backoff_seconds = [1]\ngive_up_after_hours = {hours}",
    })


def test_the_next_days_send_retries_the_deferral_first(
    project: Path, feed_server: tuple[str, Path]
) -> None:
    now = [NOW]
    handler = DeferringHandler("alan@example.net", NOW + timedelta(hours=2), lambda: now[0])
    with serving_smtp(handler) as smtp:
        config = load_config(_config(project, feed_server, smtp, 48))
        first = pipeline.send(config, NOW, ENV, controls=Controls(clock=lambda: now[0]))
        assert first.count("sent") == 2 and first.count("deferred") == 1
        assert first.next_try is not None and first.next_try > NOW

        now[0] = NOW + timedelta(days=1)  # the next day: no new stories, so no new edition
        second = pipeline.send(config, now[0], ENV, controls=Controls(clock=lambda: now[0]))

    assert [(r.edition, r.count("sent")) for r in second.retried] == [(EDITION, 3)]
    assert sorted(a.rcpt_tos[0] for a in smtp.arrived) == [
        "ada@example.com", "alan@example.net", "grace@example.org"]
    (alan,) = [a for a in smtp.arrived if a.rcpt_tos == ["alan@example.net"]]
    assert alan.message["X-Digest-Edition"] == EDITION
    with Store.open(config.database_path) as store:
        assert set(store.delivery_status(EDITION).values()) == {"sent"}


def test_run_retries_in_its_own_job_then_gives_up_with_the_last_reply(
    project: Path, feed_server: tuple[str, Path]
) -> None:
    now = [NOW]
    handler = DeferringHandler("alan@example.net", NOW + timedelta(days=30), lambda: now[0])
    with serving_smtp(handler) as smtp:
        config = load_config(_config(project, feed_server, smtp, 5))
        jobs = schedule.Jobs(config, ENV, lambda: now[0], threading.Event())
        (retry,) = [j for j in schedule.plan(config) if j.id == "retry"]
        assert retry.expression == "*/15 * * * *"  # on by default
        pipeline.send(config, NOW, ENV, controls=Controls(clock=lambda: now[0]))
        refused = handler.refused

        now[0] = NOW + timedelta(hours=1)
        (summary,) = jobs.retry(retry) or ()
        assert summary.edition == EDITION and summary.count("deferred") == 1
        assert handler.refused > refused  # it was tried again

        now[0] = NOW + timedelta(hours=5, minutes=1)  # past give_up_after_hours = 5
        tried = handler.refused
        assert jobs.retry(retry) == ()
        assert handler.refused == tried  # given up, not tried again

    with Store.open(config.database_path) as store:
        (alan,) = [d for d in store.deliveries(EDITION) if d.email == "alan@example.net"]
        assert alan.status == "failed" and alan.reply.startswith("451 4.7.1 Greylisted")
        assert "alan@example.net" not in store.suppressed()  # a 4xx is not a bounce


def test_an_old_edition_is_not_sent_to_who_joined_since(
    project: Path, feed_server: tuple[str, Path]
) -> None:
    now = [NOW]
    handler = DeferringHandler("alan@example.net", NOW + timedelta(hours=2), lambda: now[0])
    with serving_smtp(handler) as smtp:
        config = load_config(_config(project, feed_server, smtp, 48))
        pipeline.send(config, NOW, ENV, controls=Controls(clock=lambda: now[0]))
        with (project / "subscribers" / "subscribers.csv").open("a") as f:
            f.write("newcomer@example.com,New,,daily\n")
        now[0] = NOW + timedelta(hours=3)
        (summary,) = pipeline.retry_deferred(config, ENV,
                                             controls=Controls(clock=lambda: now[0]))
    assert summary.count("sent") == 3
    assert "newcomer@example.com" not in [a.rcpt_tos[0] for a in smtp.arrived]
