"""Run an ASGI app as a real HTTP server on 127.0.0.1, in a background thread or its own process."""

from __future__ import annotations

import multiprocessing
import socket
import threading
import time
from collections.abc import Callable
from typing import Any

import uvicorn


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class ServerThread:
    """A uvicorn server on 127.0.0.1 that starts and stops with a context manager."""

    def __init__(self, app: Any, *, port: int | None = None, host: str = "127.0.0.1") -> None:
        self.host = host
        self.port = port or free_port()
        config = uvicorn.Config(
            app, host=host, port=self.port, log_level="warning", lifespan="auto",
            access_log=False, loop="asyncio", timeout_graceful_shutdown=2,
        )
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True, name=f"http:{self.port}")

    @property
    def url(self) -> str:
        """The server's base URL."""
        return f"http://{self.host}:{self.port}"

    def start(self, timeout: float = 10.0) -> ServerThread:
        """Start serving; return once the socket accepts connections."""
        self.thread.start()
        deadline = time.monotonic() + timeout
        while not self.server.started:
            if not self.thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError(f"server on port {self.port} did not start")
            time.sleep(0.01)
        return self

    def stop(self) -> None:
        """Stop serving and wait for the thread."""
        self.server.should_exit = True
        self.thread.join(timeout=10)

    def __enter__(self) -> ServerThread:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _serve_factory(factory: Callable[..., Any], args: tuple[Any, ...], port: int) -> None:
    uvicorn.run(factory(*args), host="127.0.0.1", port=port, loop="uvloop", http="httptools",
                log_level="warning", access_log=False, timeout_graceful_shutdown=2)


class ServerProcess:
    """An ASGI app served by uvicorn (uvloop, httptools) in its own process on 127.0.0.1, as in production.

    `factory(*args)` builds the app inside the child (both must be picklable:
    a module-level function and plain values). Stopped by its pid on exit.
    """

    def __init__(self, factory: Callable[..., Any], *args: Any, port: int | None = None) -> None:
        self.port = port or free_port()
        self.process = multiprocessing.get_context("spawn").Process(
            target=_serve_factory, args=(factory, args, self.port), daemon=True, name=f"http:{self.port}")

    @property
    def url(self) -> str:
        """The server's base URL."""
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 30.0) -> ServerProcess:
        """Start the process; return once its socket accepts connections."""
        self.process.start()
        deadline = time.monotonic() + timeout
        while True:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
                return self
            except OSError:
                if not self.process.is_alive() or time.monotonic() > deadline:
                    self.stop()
                    raise RuntimeError(f"server process on port {self.port} did not start") from None
                time.sleep(0.05)

    def stop(self) -> None:
        """Terminate the process we started (SIGTERM: uvicorn shuts down cleanly), then kill if it lingers."""
        if self.process.is_alive():
            self.process.terminate()
            self.process.join(timeout=10)
        if self.process.is_alive():
            self.process.kill()
            self.process.join(timeout=5)

    def __enter__(self) -> ServerProcess:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
