"""What every browser test file shares: the real stack and a watched Chromium page.

`manage.py studio` (what `make run` starts) runs the web server and the worker
as separate processes, each with its own in-process simulator. A test file imports
the fixtures it uses (`from tests.browser_kit import csp, page, stack`); each file
starts a stack of its own, once, and stays on one pytest worker (--dist loadfile).
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import httpx
import pytest

ROOT = Path(__file__).resolve().parent.parent
PASSWORD = "e2e-" + uuid.uuid4().hex
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--autoplay-policy=no-user-gesture-required",
]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _chromium() -> str:
    path = (
        os.environ.get("CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")
    )
    if path:
        return path
    if os.environ.get("CI") == "true":
        pytest.fail("Chromium is missing; under CI=true the browser tests must run (make browser)")
    pytest.skip("Chromium is not installed (make browser installs Debian's package)")


def _scratch_database(url: str) -> tuple[str, Any]:
    """A fresh PostgreSQL database for the stack when the suite runs on PostgreSQL."""
    import psycopg

    name = f"videostudio_e2e_{uuid.uuid4().hex[:8]}"
    admin = psycopg.connect(url, autocommit=True)
    admin.execute(f'CREATE DATABASE "{name}"')
    parsed = urlparse(url)

    def drop() -> None:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.close()

    return parsed._replace(path=f"/{name}").geturl(), drop


@pytest.fixture(scope="module")
def stack(
    tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest
) -> Iterator[str]:
    """The stack of one test file; a file's STACK_ENV (a dict) adds to its settings."""
    data = tmp_path_factory.mktemp("stack")
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if k not in {"VIDEOSTUDIO_API_KEY", "POE_API_KEY"}}
    env.update(
        VIDEOSTUDIO_DATA_DIR=str(data),
        VIDEOSTUDIO_SIMULATOR_QUEUE_SECONDS="1",
        VIDEOSTUDIO_SIMULATOR_RENDER_SECONDS="6",
        VIDEOSTUDIO_PAGE_POLL_SECONDS="1",
        VIDEOSTUDIO_PAGE_POLL_MAX_SECONDS="2",
        VIDEOSTUDIO_PAGE_POLL_HIDDEN_SECONDS="5",
        DJANGO_SUPERUSER_PASSWORD=PASSWORD,
    )
    env.update(getattr(request.module, "STACK_ENV", {}))
    drop = None
    if env.get("DATABASE_URL"):
        env["DATABASE_URL"], drop = _scratch_database(env["DATABASE_URL"])
    manage = [sys.executable, "manage.py"]
    accounts = [
        ["createsuperuser", "--noinput", "--username", name, "--email", f"{name}@example.com"]
        for name in ("e2e", "mate")
    ]
    for command in (["migrate", "--noinput"], *accounts):
        subprocess.run(manage + command, cwd=ROOT, env=env, check=True, capture_output=True)
    log = (data / "studio.log").open("w+")
    code: int | None = None
    proc = subprocess.Popen(
        [*manage, "studio", "--port", str(port)], cwd=ROOT, env=env, stdout=log, stderr=log
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{base}/accounts/login/").status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                log.seek(0)
                pytest.fail(f"the stack did not start:\n{log.read()}")
            time.sleep(0.3)
        yield base
    finally:
        # What Ctrl-C does in `make run`: both processes stop, cleanly.
        proc.send_signal(signal.SIGINT)
        try:
            code = proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.seek(0)
        output = log.read()
        log.close()
        if drop is not None:
            drop()
    assert code == 0, output
    assert "Stopped." in output


# Runs in every page before its own scripts: hands each CSP violation to the test.
CSP_LISTENER = """
document.addEventListener("securitypolicyviolation", (e) => {
  window.__cspViolation({
    directive: e.effectiveDirective, blocked: e.blockedURI, sample: e.sample,
    source: e.sourceFile, line: e.lineNumber, page: document.location.href,
  });
}, {capture: true});
"""


# What Chromium says of a violation, and what htmx says when a trigger filter or a
# js: value needs the eval it is not allowed (it names the filter a syntax error).
CSP_CONSOLE = ("Content Security Policy", "htmx:evalDisallowedError", "htmx:syntax:error")


class CSPWatch:
    """Every Content-Security-Policy violation in a browser context: the events pages
    fire, and what Chromium and htmx say about them in the console."""

    def __init__(self) -> None:
        self.violations: list[dict[str, Any]] = []
        self.console: list[str] = []

    def attach(self, context: Any) -> None:
        context.expose_binding("__cspViolation", lambda _source, v: self.violations.append(v))
        context.add_init_script(CSP_LISTENER)
        context.on("console", lambda message: self.console.append(message.text))

    def problems(self) -> list[str]:
        found = [
            f"{v['directive']} blocked {v['blocked'] or 'inline'} on {v['page']}"
            f" ({v['source']}:{v['line']}) {v['sample']!r}"
            for v in self.violations
        ]
        found += [text for text in self.console if any(s in text for s in CSP_CONSOLE)]
        return found

    def clear(self) -> None:
        self.violations.clear()
        self.console.clear()


@pytest.fixture
def csp() -> CSPWatch:
    return CSPWatch()


@pytest.fixture
def page(stack: str, csp: CSPWatch) -> Iterator[Any]:
    """A logged-out page on the stack; the test fails on any CSP violation in it."""
    from playwright.sync_api import sync_playwright

    executable = _chromium()
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        context = browser.new_context(base_url=stack)
        csp.attach(context)
        page = context.new_page()
        page.set_default_timeout(20_000)
        yield page
        page.wait_for_timeout(200)  # reports still on their way
        problems = csp.problems()
        context.close()
        browser.close()
    assert not problems, "Content-Security-Policy violations:\n" + "\n".join(problems)


def log_in(page: Any, username: str = "e2e") -> None:
    page.goto("/")
    assert "/accounts/login/" in page.url
    page.fill("#id_username", username)
    page.fill("#id_password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url("**/")


def submit(page: Any, prompt: str) -> None:
    page.click("header >> text=New video")
    page.select_option("#id_model", "Sora-2")
    page.fill("#id_prompt", prompt)
    page.select_option("#id_seconds", "4")
    page.click("#video-form button[type=submit]")
    page.wait_for_selector(".video-card")


AXE = ROOT / "tests" / "vendor" / "axe-core" / "axe.min.js"
# What the studio's pages must never have. Moderate and minor findings are reported by
# axe too, but they are judgement calls; these are failures.
AXE_IMPACTS = ("serious", "critical")


def axe_violations(page: Any, *, impacts: tuple[str, ...] = AXE_IMPACTS) -> list[str]:
    """axe-core's serious and critical findings on the page as it is now, one line each.

    The engine goes in through the DevTools protocol (`evaluate`), which the page's
    Content-Security-Policy does not govern: a <script> tag would be refused, and
    counted as a violation by the CSP watch."""
    if not page.evaluate("() => typeof window.axe === 'object'"):
        page.evaluate(AXE.read_text(encoding="utf-8"))
    results = page.evaluate(
        "() => axe.run(document, {resultTypes: ['violations']})"
        ".then(r => r.violations.map(v => ({id: v.id, impact: v.impact, help: v.help,"
        " nodes: v.nodes.map(n => n.target.join(' ')).slice(0, 5)})))"
    )
    return [
        f"{v['impact']}: {v['id']} ({v['help']}) at {', '.join(v['nodes'])} on {page.url}"
        for v in results
        if v["impact"] in impacts
    ]
