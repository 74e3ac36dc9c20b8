"""Run the web server and the django-q2 worker together; Ctrl-C stops both."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import threading
import time
from types import FrameType
from typing import Any

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import connection


class Command(BaseCommand):
    help = "Start the web server (gunicorn) and the worker (qcluster); stop both on Ctrl-C."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=8000)
        parser.add_argument("--web-workers", type=int, default=2)

    def handle(self, *args: Any, host: str, port: int, web_workers: int, **options: Any) -> None:
        python = sys.executable
        web = [
            python, "-m", "gunicorn", "videostudio.wsgi:application",
            "--bind", f"{host}:{port}",
            "--workers", str(web_workers), "--threads", "8", "--worker-class", "gthread",
            # Sending a job waits on the provider; give it room before gunicorn kills it.
            "--timeout", str(int(settings.VIDEOSTUDIO_PROVIDER_TIMEOUT * 4) + 30),
            "--graceful-timeout", "10", "--log-level", "warning",
        ]  # fmt: skip
        worker = [python, "manage.py", "qcluster"]
        # The header shows the team balance from the first page on.
        threading.Thread(target=_read_balance, daemon=True).start()
        # Each in a session of its own: a Ctrl-C reaches this command only, which then
        # stops each whole group (the worker's own processes included), in order.
        procs = {
            "web server": subprocess.Popen(web, start_new_session=True),
            "worker": subprocess.Popen(worker, start_new_session=True),
        }
        mode = (
            "demo mode: the built-in simulator, no key set"
            if settings.VIDEOSTUDIO_DEMO
            else f"provider {settings.VIDEOSTUDIO_API_BASE}"
        )
        self.stdout.write(
            self.style.SUCCESS(f"\nvideostudio is running ({mode}): open http://{host}:{port}/\n")
            + "Press Ctrl-C to stop the web server and the worker.\n"
        )
        self.stdout.flush()

        stopping = False

        def stop(signum: int, frame: FrameType | None) -> None:
            nonlocal stopping
            stopping = True

        signal.signal(signal.SIGINT, stop)
        signal.signal(signal.SIGTERM, stop)
        failed = None
        while not stopping:
            for name, proc in procs.items():
                if proc.poll() is not None:
                    failed = f"The {name} stopped (exit {proc.returncode})"
                    stopping = True
            time.sleep(0.2)
        for proc in procs.values():
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)  # each stops its own processes gracefully
        deadline = time.monotonic() + 15
        for proc in procs.values():
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(timeout=max(deadline - time.monotonic(), 0.1))
            # Whatever of the group is still there (a worker's children) goes now.
            _signal_group(proc, signal.SIGKILL)
            proc.wait()
        if failed is not None:
            raise CommandError(f"{failed}; stopped everything.")
        self.stdout.write("Stopped.")


def _signal_group(proc: subprocess.Popen[bytes], signum: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signum)


def _read_balance() -> None:
    """Whoever keeps the points reads the balance (`sync_points`, if the app is there)."""
    try:
        call_command("sync_points", "--balance-only", verbosity=0)
    except CommandError:
        pass  # no such command: nobody keeps the points
    finally:
        connection.close()
