"""`make soak`: nothing lost when processes die, against a provider that misbehaves.

The app runs as `make run` runs it (gunicorn and the qcluster worker, each its own
process group, SQLite) against the simulator on its own port, over real HTTP, with
a key the simulator requires and random faults (`videostudio.simulator.faults`):
500s, answers later than the app's timeout, cut-off JSON bodies, downloads broken
off, jobs failing at the provider, 429 bursts. Members send 200 jobs through the
app's forms (some with a reference image), then remixes and extensions of what
finished; meanwhile the worker is SIGKILLed three times and the web server once,
each restarted a second later. A member whose form got no answer sends it again
(the same form token), as a browser would.

Then it checks, from the simulator's own record of what it made and charged
(`/_simulator/jobs`) and the app's database, and prints a table (exit 1 on any
failed check): every job in the provider's final state, none stuck, none made
twice, every archived file byte-identical to what the provider serves, points
exactly once per charged job and none for failed ones, how long tracking stopped
after each restart, and no traceback and no key in any log.

    make soak SOAK_ARGS="--jobs 60 --window 30"   # a quick run
"""

from __future__ import annotations

import argparse
import contextlib
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType

import httpx
from fleet_stack import (
    API_KEY,
    SimulatorProcess,
    _manage,
    dump,
    free_port,
    member_names,
    prepare_app,
    start_simulator,
    tail,
)
from fleet_workload import read_only as rows
from soak_checks import Restart, check_all, print_table
from soak_stack import POSTING, STOP, Member, Monitor, Post, Stack, image_bytes

# Models whose videos can be remixed and extended come first: they are the sources.
KINDS = (
    ("Sora-2", 4, "720x1280"),
    ("Sora-2", 8, "1280x720"),
    ("Sora-2-Pro", 4, "720x1280"),
    ("Veo-3-Fast", 4, "720x1280"),
    ("Veo-3.1-Fast", 6, "720x1280"),
)


def say(text: str) -> None:
    print(text, flush=True)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="benchmarks/soak.py", description=__doc__.split("\n")[0])
    add = parser.add_argument
    add("--jobs", type=int, default=200, help="jobs in all, an eighth each remixes and extensions")
    add("--members", type=int, default=10, help="members sending them (10)")
    add("--window", type=float, default=90.0, help="seconds the new videos are sent over (90)")
    add(
        "--render",
        type=float,
        nargs=2,
        default=(6.0, 30.0),
        metavar=("MIN", "MAX"),
        help="provider seconds per job, picked at random (6 30)",
    )
    add("--worker-kills", type=int, default=3)
    add("--web-kills", type=int, default=1)
    add("--restart-after", type=float, default=1.0, help="seconds between a kill and its restart")
    add("--timeout", type=float, default=900.0, help="longest wait for every job to settle, s")
    add("--provider-timeout", type=float, default=5.0, help="the app's provider timeout, s")
    add("--error-rate", type=float, default=0.02)
    add("--slow-rate", type=float, default=0.01)
    add("--slow-answer-seconds", type=float, default=8.0)
    add("--malformed-rate", type=float, default=0.01)
    add("--cut-rate", type=float, default=0.05)
    add("--fail-rate", type=float, default=0.08)
    add("--burst-429", default="90:4", metavar="EVERY:SECONDS")
    add("--seed", type=int, default=1)
    add("--keep", action="store_true", help="keep the temp dir (logs, database)")
    args = parser.parse_args(argv)  # fmt: skip
    if args.jobs < 8 or args.members < 2:
        parser.error("needs at least 8 jobs and 2 members")
    if args.provider_timeout >= args.slow_answer_seconds:
        parser.error("--slow-answer-seconds must exceed --provider-timeout to be a lost answer")
    return args


@dataclass
class Workload:
    args: argparse.Namespace
    stack: Stack
    posts: list[Post] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def run(self) -> None:
        args, rng = self.args, random.Random(self.args.seed)
        derived = args.jobs // 8
        creates = args.jobs - 2 * derived
        names = member_names(args.members)
        members = {name: Member(self.stack.url, name) for name in names}
        plan: dict[str, list[tuple[float, str, int]]] = {name: [] for name in names}
        for i in range(args.jobs):
            kind = "create" if i < creates else ("remix" if i < creates + derived else "extend")
            if kind == "create" and i % 4 == 3:
                kind = "image"
            at = rng.uniform(0, args.window)
            if kind in ("remix", "extend"):  # once sources have finished
                at = rng.uniform(args.window * 0.4, args.window * 1.4)
            plan[names[i % len(names)]].append((at, kind, i))
        start = time.monotonic()

        def member(name: str) -> None:
            me, mine = members[name], sorted(plan[name])
            local = random.Random(f"{args.seed}:{name}")
            for at, kind, i in mine:
                if STOP.wait(max(start + at - time.monotonic(), 0)):
                    return
                post = Post(f"soak #{i:04d}", kind)
                render = round(local.uniform(*args.render), 1)
                prompt = f"{post.key} {kind} [render:{render}]"
                if kind in ("create", "image"):
                    model, seconds, size = KINDS[i % len(KINDS)]
                    data = {"model": model, "prompt": prompt, "seconds": str(seconds), "size": size}
                    files = (
                        {"image": ("ref.png", image_bytes(i), "image/png")}
                        if kind == "image"
                        else None
                    )
                    me.send(post, "/videos/new/", data, files)
                else:
                    source = self.source(kind, local)
                    if source is None:
                        post.status = -1  # no source finished in time
                    else:
                        path = f"/videos/{source}/{'remix' if kind == 'remix' else 'extend'}/"
                        data = {"prompt": prompt} | ({"seconds": "4"} if kind == "extend" else {})
                        me.send(post, path, data)
                with self.lock:
                    self.posts.append(post)

        threads = [threading.Thread(target=member, args=(n,), daemon=True) for n in names]
        for thread in threads:
            thread.start()
        for thread in threads:
            while thread.is_alive():
                thread.join(0.5)

    def source(self, kind: str, rng: random.Random) -> int | None:
        """A finished Sora video to build on (an extension keeps within 20 s)."""
        deadline = time.monotonic() + 180
        while not STOP.is_set() and time.monotonic() < deadline:
            found = rows(
                self.stack.db,
                "SELECT id FROM videos_video WHERE status='completed' AND archived_at IS NOT NULL"
                " AND model LIKE 'Sora-2%' AND seconds <= 12",
            )
            if found:
                return int(rng.choice(found)[0])
            time.sleep(2)
        return None


# --- The run ------------------------------------------------------------------------------------


def chaos(stack: Stack, args: argparse.Namespace, monitor: Monitor) -> list[Restart]:
    """Kill the worker and the web server at their moments; restart each a second later."""
    span = args.window * 1.4
    moments = [("worker", span * (k + 0.5) / args.worker_kills) for k in range(args.worker_kills)]
    moments += [("web", span * (k + 0.7) / (args.web_kills + 0.5)) for k in range(args.web_kills)]
    start, restarts = time.monotonic(), []
    for at, (what, moment) in sorted((m, (w, m)) for w, m in moments):
        if STOP.wait(max(start + at - time.monotonic(), 0)):
            break
        child = stack.worker if what == "worker" else stack.web
        # The web server dies with a member's form on its way, if one comes soon.
        caught = what == "web" and POSTING.wait(timeout=10)
        busy = rows(stack.db, "SELECT count(*) FROM videos_video WHERE lease_token IS NOT NULL")[0][
            0
        ]
        stack.kill(child)
        killed = time.time()
        during = ", a form on its way" if caught else ""
        say(f"  {moment:5.0f} s: killed the {what} (SIGKILL, {busy} jobs under lease{during})")
        time.sleep(args.restart_after)
        restarted = time.time()
        if what == "worker":
            stack.start_worker()
        else:
            stack.start_web()
        restarts.append(Restart(what, killed, restarted, busy))
    for restart in restarts:
        if restart.what == "worker":
            restart.resumed = monitor.resumed_after(restart.killed, restart.restarted)
            restart.beat_gap = monitor.beat_gap(restart.killed)
    return restarts


def settled(db: Path) -> tuple[bool, dict[str, int]]:
    counts: dict[str, int] = {}
    for status, archived, due in rows(
        db, "SELECT status, archived_at IS NOT NULL, next_poll_at IS NOT NULL FROM videos_video"
    ):
        key = "archived" if archived else status
        if status == "completed" and not archived and not due:
            key = "archive gave up"
        counts[key] = counts.get(key, 0) + 1
    moving = sum(n for k, n in counts.items() if k not in ("archived", "failed", "unconfirmed"))
    return moving == 0, counts


def _interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, _interrupt)
    root = Path(tempfile.mkdtemp(prefix="videostudio-soak-"))
    began = time.monotonic()
    sim: SimulatorProcess | None = None
    stack: Stack | None = None
    ok = False
    try:
        faults = (
            "--api-key", API_KEY, "--fault-seed", str(args.seed),
            "--error-rate", str(args.error_rate), "--slow-rate", str(args.slow_rate),
            "--slow-answer-seconds", str(args.slow_answer_seconds),
            "--malformed-rate", str(args.malformed_rate), "--cut-rate", str(args.cut_rate),
            "--fail-rate", str(args.fail_rate), "--burst-429", args.burst_429,
        )  # fmt: skip
        sim = start_simulator(
            "simulator", root / "simulator.log", rate_per_minute=500, burst=100,
            queue_seconds=2.0, extra=faults,
        )  # fmt: skip
        say(f"simulator {sim.url} (key required; faults: {' '.join(faults[4:])})")
        env = prepare_app(
            root / "app", sim.url, members=args.members, log_path=root / "manage.log",
            VIDEOSTUDIO_PROVIDER_TIMEOUT=str(args.provider_timeout),
        )  # fmt: skip
        stack = Stack(root, env, free_port(), logs=[root / "manage.log"])
        stack.start_web()
        stack.start_worker()
        monitor = Monitor(stack.db)
        monitor.start()
        say(
            f"app {stack.url}: {args.jobs} jobs from {args.members} members "
            f"over {args.window:.0f} s"
        )
        work = Workload(args, stack)
        killer: list[list[Restart]] = []
        chaos_thread = threading.Thread(
            target=lambda: killer.append(chaos(stack, args, monitor)), daemon=True
        )
        chaos_thread.start()
        work.run()
        while chaos_thread.is_alive():
            chaos_thread.join(0.5)
        say(f"  all sent in {time.monotonic() - began:.0f} s; waiting for every job to settle")
        deadline = time.monotonic() + args.timeout
        last = 0.0
        while not STOP.is_set():
            done, counts = settled(stack.db)
            if done or time.monotonic() > deadline:
                break
            if time.monotonic() - last > 20:
                last = time.monotonic()
                say(f"  {time.monotonic() - began:5.0f} s: {dump(counts)}")
            time.sleep(2)
        # The points history read again, so the ledger holds every charge there is (a
        # read that a fault cut short goes on from where it stopped the next time).
        made = httpx.get(f"{sim.root}/_simulator/jobs", timeout=60).json()["jobs"]
        charged = sum(1 for job in made if job["charge"])
        for _ in range(5):
            with contextlib.suppress(subprocess.CalledProcessError):
                _manage(["sync_points"], env, root / "manage.log")
            if rows(stack.db, "SELECT count(*) FROM usage_ledgerentry")[0][0] >= charged:
                break
        figures = check_all(
            db=stack.db, media=Path(env["VIDEOSTUDIO_DATA_DIR"]) / "media", sim=sim,
            posts=work.posts, restarts=killer[0] if killer else [],
            logs=[*stack.logs, root / "simulator.log"], key=API_KEY,
        )  # fmt: skip
        figures["wall_seconds"] = round(time.monotonic() - began, 1)
        figures["settled"] = settled(stack.db)[1]
        ok = print_table(figures, args)
        say(dump(figures))
        return 0 if ok else 1
    except KeyboardInterrupt:
        say("interrupted: stopping everything")
        return 130
    except Exception:
        args.keep = True
        for log in sorted(root.glob("*.log")):
            say(f"--- last lines of {log}:\n{tail(log)}")
        raise
    finally:
        STOP.set()
        if stack is not None:
            stack.stop()
        if sim is not None:
            sim.child.stop()
        if args.keep or not ok:
            say(f"kept {root}")
        else:
            shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
