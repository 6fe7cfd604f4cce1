"""`digest serve`'s app run for real: uvicorn on a free loopback port, in a thread."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime

import uvicorn

from digest.config import Config
from digest.pipeline.serve import web_app


@contextmanager
def running_web(config: Config, key: bytes, port: int,
                clock: Callable[[], datetime] | None = None) -> Iterator[str]:
    """Serve the app on 127.0.0.1:`port` until the block ends; yields its base URL.

    The app mails its notices to the config's [smtp] server, as `digest serve` does.
    """
    app = web_app(config, {}, clock or (lambda: datetime.now(UTC)), key)
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port,
                                           log_level="warning", lifespan="off"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(10)
