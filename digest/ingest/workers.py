"""Parse workers: every feed is parsed in a child process under a CPU deadline.

In: fetched results (status "ok"), the fetch time, how many processes, the deadline in CPU
seconds. Out: each result's stories, or a `ParseError` naming the feed and why (not a feed,
took too long, the process died).

Why processes and a kernel limit: no pattern or parser over hostile text can be proven fast
for every input, and neither a regex nor expat can be interrupted from Python. The kernel can:
before each feed the worker sets its own RLIMIT_CPU to the CPU time it has used plus the
deadline, so a feed that spins past it is killed by SIGXCPU whatever code it is in. The
parent sees the pipe close, fails that feed, and starts a fresh worker for the next one. A
wall-clock backstop covers a worker that hangs without using CPU.
"""

from __future__ import annotations

import contextlib
import logging
import math
import multiprocessing
import queue
import signal
import threading
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import datetime
from multiprocessing.connection import Connection
from multiprocessing.process import BaseProcess
from typing import Any

from digest.errors import ParseError
from digest.ingest.parse import parse_feed
from digest.model import FetchResult, Story

log = logging.getLogger(__name__)

# A worker that neither answers nor uses CPU is given this many times its deadline, plus the
# slack below, before it is killed: CPU time is the real limit, this only ends a hang.
WALL_FACTOR = 4
WALL_SLACK_SECONDS = 10.0
# How a worker ends at its deadline: the kernel's CPU limit, or our kill after a hang.
_DEADLINE_SIGNALS = {getattr(signal, name) for name in ("SIGXCPU", "SIGKILL")
                     if hasattr(signal, name)}


class FeedParser:
    """Parses fetched feeds in worker processes, each feed under a CPU deadline (a context
    manager).

    `submit` starts parsing a result in the background (non-blocking, so fetching goes on);
    `stories` returns its stories, or raises its `ParseError`.
    """

    def __init__(self, now: datetime, workers: int, cpu_seconds: int) -> None:
        self._now = now
        self._cpu_seconds = max(1, cpu_seconds)
        self._context = _worker_context()
        self._idle: queue.SimpleQueue[_Worker | None] = queue.SimpleQueue()
        self._all: list[_Worker] = []
        self._lock = threading.Lock()
        self._slots = max(1, workers)
        for _ in range(self._slots):
            self._idle.put(None)  # a slot; its process starts when first needed
        self._threads = ThreadPoolExecutor(max_workers=self._slots,
                                           thread_name_prefix="digest-parse")
        self._futures: dict[int, Future[list[Story]]] = {}

    def __enter__(self) -> FeedParser:
        return self

    def __exit__(self, *exc: object) -> None:
        self._threads.shutdown(wait=True, cancel_futures=True)
        with self._lock:
            workers, self._all = self._all, []
        for worker in workers:
            worker.stop()

    def submit(self, result: FetchResult) -> None:
        """Start parsing `result` (status "ok") in a worker; returns at once."""
        if result.status == "ok" and id(result) not in self._futures:
            self._futures[id(result)] = self._threads.submit(self._parse, result)

    def stories(self, result: FetchResult) -> list[Story]:
        """The stories of `result`, as `parse.parse_feed` gives them.

        Raises:
            ParseError: the feed is not a feed, took longer than the deadline to parse, or
                its worker died (the message names the feed and says which).
        """
        self.submit(result)
        return self._futures.pop(id(result)).result()

    def _parse(self, result: FetchResult) -> list[Story]:
        worker = self._idle.get()
        try:
            if worker is None or not worker.alive:
                worker = self._start()
            outcome = worker.run(result, self._now, self._cpu_seconds)
            if outcome is None:  # killed at the deadline, or died: never reused
                worker.stop()
                code = worker.exitcode
                worker = None
                raise ParseError(self._died(result, code))
        finally:
            self._idle.put(worker)
        kind, value = outcome
        if kind == "ok":
            stories: list[Story] = value
            return stories
        raise ParseError(str(value))

    def _start(self) -> _Worker:
        worker = _Worker(self._context)
        with self._lock:
            self._all = [w for w in self._all if w.alive] + [worker]
        return worker

    def _died(self, result: FetchResult, exitcode: int | None) -> str:
        if exitcode is not None and -exitcode not in _DEADLINE_SIGNALS:
            return (f"feed {result.feed.url}: the parser process died (exit code {exitcode}); "
                    "the feed may be too big or hostile; lower fetch.max_bytes")
        return (f"feed {result.feed.url}: took longer than {self._cpu_seconds} s to parse "
                "(fetch.parse_seconds); the feed is too big or built to be slow, tell its "
                "publisher")


class _Worker:
    """One child process and the pipe to it."""

    def __init__(self, context: multiprocessing.context.BaseContext) -> None:
        parent, child = multiprocessing.Pipe(duplex=True)
        process: BaseProcess = context.Process(  # type: ignore[attr-defined]
            target=_serve, args=(child,), daemon=True, name="digest-parse-worker")
        process.start()
        child.close()
        self._conn: Connection = parent
        self._process = process

    @property
    def alive(self) -> bool:
        return self._process.is_alive()

    @property
    def exitcode(self) -> int | None:
        return self._process.exitcode

    def run(self, result: FetchResult, now: datetime, cpu_seconds: int) -> tuple[str, Any] | None:
        """Parse one feed in the child: ("ok", stories), ("error", message), or None when the
        child died (killed at its CPU deadline, or otherwise) or did not answer in time."""
        try:
            self._conn.send((result, now, cpu_seconds))
            if not self._conn.poll(cpu_seconds * WALL_FACTOR + WALL_SLACK_SECONDS):
                return None
            answer: tuple[str, Any] = self._conn.recv()
            return answer
        except (EOFError, OSError):
            return None

    def stop(self) -> None:
        with contextlib.suppress(OSError, ValueError):
            self._conn.send(None)
        self._process.join(1.0)
        if self._process.is_alive():
            self._process.kill()
            self._process.join(5.0)
        self._conn.close()


def _serve(conn: Connection) -> None:
    """The worker's loop: parse each feed it is sent under a fresh CPU limit."""
    # The parent decides when to stop (Ctrl-C reaches the whole process group).
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    _no_core_dumps()
    while True:
        try:
            job = conn.recv()
        except (EOFError, OSError):
            return
        if job is None:
            return
        result, now, cpu_seconds = job
        _limit_cpu(cpu_seconds)
        answer: tuple[str, Any]
        try:
            answer = ("ok", parse_feed(result, now))
        except ParseError as e:
            answer = ("error", str(e))
        except Exception as e:  # any other failure is this feed's, said in one line
            text = " ".join(str(e).split())[:300]
            answer = ("error", f"feed {result.feed.url}: parsing failed: "
                               f"{type(e).__name__}: {text}")
        try:
            conn.send(answer)
        except Exception as e:  # an answer that cannot be sent back is still one line
            conn.send(("error", f"feed {result.feed.url}: its stories could not be handed "
                                f"back ({type(e).__name__}: {e})"))


def _limit_cpu(cpu_seconds: int) -> None:
    """Let this process use `cpu_seconds` more CPU seconds; then the kernel kills it."""
    try:
        import resource
    except ImportError:  # not on this platform: the parent's wall-clock backstop remains
        return
    usage = resource.getrusage(resource.RUSAGE_SELF)
    used = math.ceil(usage.ru_utime + usage.ru_stime)
    hard = resource.getrlimit(resource.RLIMIT_CPU)[1]
    soft = used + cpu_seconds
    if hard != resource.RLIM_INFINITY:
        soft = min(soft, hard)
    resource.setrlimit(resource.RLIMIT_CPU, (soft, hard))


def _no_core_dumps() -> None:
    """SIGXCPU's default action dumps core: a killed worker must leave no file behind."""
    try:
        import resource

        resource.setrlimit(resource.RLIMIT_CORE, (0, resource.getrlimit(resource.RLIMIT_CORE)[1]))
    except (ImportError, ValueError, OSError):
        pass


def _worker_context() -> multiprocessing.context.BaseContext:
    """How parse workers start: from a fork server that has imported this module, where the
    platform has one. Not a plain fork: `digest run` and `digest serve` have threads, and a
    process forked while another thread holds a lock (logging's, say) can hang forever."""
    if "forkserver" in multiprocessing.get_all_start_methods():
        context = multiprocessing.get_context("forkserver")
        context.set_forkserver_preload([__name__])
        return context
    return multiprocessing.get_context("spawn")

