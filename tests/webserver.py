"""`digest serve`'s app run for real: uvicorn on a free loopback port, in a thread."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime

import uvicorn

from digest.audience import web
from digest.config import Config


@contextmanager
def running_web(config: Config, key: bytes, port: int) -> Iterator[str]:
    """Serve the app on 127.0.0.1:`port` until the block ends; yields its base URL."""
    app = web.create_app(config, key, lambda: datetime.now(UTC))
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
