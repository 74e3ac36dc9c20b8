"""Serving the simulator on a real port: threaded wsgiref, quiet logs."""

from __future__ import annotations

import socket
import threading
from socketserver import ThreadingMixIn
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from videostudio.simulator.app import Simulator


class _QuietHandler(WSGIRequestHandler):
    """No access log on stderr: tests and demos would drown in it."""

    def log_message(self, format: str, *args: Any) -> None:
        pass


class SimulatorServer(ThreadingMixIn, WSGIServer):
    """A WSGIServer that answers each request on its own thread (clients poll in parallel)."""

    daemon_threads = True  # a hung client must not keep the process alive
    allow_reuse_address = True
    # socketserver's default backlog is 5: a team's worth of connections at once
    # overflows it, and the kernel resets some, which a client reads as a dropped
    # request (for a create: outcome unknown).
    request_queue_size = socket.SOMAXCONN

    @property
    def port(self) -> int:
        return int(self.server_address[1])

    @property
    def url(self) -> str:
        """The base URL clients use, ending in /v1."""
        host = str(self.server_address[0])
        host = f"[{host}]" if ":" in host else host
        return f"http://{host}:{self.port}/v1"

    @property
    def simulator(self) -> Simulator:
        app = self.get_app()
        assert isinstance(app, Simulator)
        return app

    def stop(self) -> None:
        """Stop serve_forever (when running on another thread) and close the socket."""
        self.shutdown()
        self.server_close()


def make_simulator_server(
    host: str = "127.0.0.1", port: int = 0, *, app: Simulator | None = None, **simulator_kwargs: Any
) -> SimulatorServer:
    """A bound, not yet serving server; port 0 picks a free port (see `.port`)."""
    if app is None:
        app = Simulator(**simulator_kwargs)
    elif simulator_kwargs:
        raise TypeError("pass either app or Simulator keyword arguments, not both")
    server = make_server(host, port, app, server_class=SimulatorServer, handler_class=_QuietHandler)
    assert isinstance(server, SimulatorServer)
    return server


def serve(
    host: str = "127.0.0.1", port: int = 0, *, app: Simulator | None = None, **simulator_kwargs: Any
) -> tuple[SimulatorServer, threading.Thread]:
    """Serve in a background daemon thread; stop with `server.stop()`.

    Pass a ready `app` (to keep a handle on its clock or `inject_error`) or the
    keyword arguments of `Simulator`.
    """
    server = make_simulator_server(host, port, app=app, **simulator_kwargs)
    thread = threading.Thread(
        target=server.serve_forever,
        kwargs={"poll_interval": 0.1},
        daemon=True,
        name=f"simulator-{server.port}",
    )
    thread.start()
    return server, thread
