"""`make bench-fleet`: the tracker at scale, over real HTTP, beside two simple trackers.

The app runs as `make run` runs it (`manage.py studio`: gunicorn and the qcluster
worker, separate processes) on a fresh SQLite data dir, against the simulator on
its own port playing a strict provider: 500 requests a minute with a burst of 100
(429 + Retry-After beyond that), one stock clip per size and length, 2 s queues.
Members log in and send jobs through the New video form, each in a thread of their
own. Three scenarios run against one app, in this order:

- small: 10 jobs from 2 members at once (10 jobs in flight), on a cold app;
- main: 300 jobs from 20 members spread at random over 45 s, 20-120 s each (set by
  the kind of job, +-10 %), until every job is archived or 12 minutes pass;
- queue: one member sends 200 jobs as fast as the form allows, then a teammate one:
  how long does the teammate's job wait to be sent?

Then the main workload again, against a fresh simulator each, for a naive tracker
(every job looked at every 5 s) and a fixed 15 s sweep (`fleet_baselines.py`).
The figures come from the simulator's request counters (`/_simulator/stats`), the
app's database (read-only) and the job ids themselves (`decode_id(id).finished`:
when the provider finished). Prints a table, then one JSON line with every figure.

    make bench-fleet FLEET_ARGS="--jobs 60 --members 6 --window 10"   # a quick run
"""

from __future__ import annotations

import argparse
import shutil
import signal
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from types import FrameType
from typing import Any

from fleet_baselines import Caller, Track, run_naive, run_sweep
from fleet_stack import (
    PASSWORD,
    STAFF,
    AppProcess,
    Child,
    MachineLoad,
    SimulatorProcess,
    dump,
    log_problems,
    member_names,
    start_app,
    start_simulator,
    tail,
)
from fleet_workload import (
    FAILED,
    FILES_PER_JOB,
    KINDS,
    QUEUE_SECONDS,
    Browser,
    Job,
    Kind,
    Row,
    Sent,
    percentile,
    plan,
    spread,
    submit_all,
    wait_for_rows,
)

from videostudio.simulator.jobs import decode_id

RATE_PER_MINUTE = 500
BURST = 100
MIN_REQUESTS_PER_JOB = 1 + 1 + FILES_PER_JOB  # create, one status read, the files
STOP = threading.Event()
Figures = dict[str, Any]


def say(text: str) -> None:
    print(text, flush=True)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="benchmarks/fleet.py", description=__doc__.split("\n")[0])
    parser.add_argument("--jobs", type=int, default=300, help="jobs in the main run (300)")
    parser.add_argument("--members", type=int, default=20, help="members sending them (20)")
    parser.add_argument("--window", type=float, default=45.0, help="seconds they are sent over")
    parser.add_argument("--seed", type=int, default=1, help="the workload's random seed")
    parser.add_argument("--timeout", type=float, default=720.0, help="longest wait per run, s")
    parser.add_argument("--small-jobs", type=int, default=10, help="jobs in flight, small run")
    parser.add_argument("--queue-jobs", type=int, default=200, help="one member's queue")
    parser.add_argument(
        "--serial-baselines", action="store_true", help="run the baselines one after the other"
    )
    parser.add_argument("--no-baselines", action="store_true", help="measure the app only")
    parser.add_argument("--keep", action="store_true", help="keep the temp dir (logs, database)")
    args = parser.parse_args(argv)
    if args.jobs < 1 or args.members < 2 or args.small_jobs < 1 or args.queue_jobs < 1:
        parser.error("needs at least 1 job, 2 members, 1 small job and 1 queued job")
    return args


# --- The app's scenarios ---------------------------------------------------------------------


def progress_printer(label: str, total: int) -> Callable[[list[Row]], None]:
    last = [0.0]

    def show(rows: list[Row]) -> None:
        if time.monotonic() - last[0] < 15:
            return
        last[0] = time.monotonic()
        counts: dict[str, int] = {}
        for row in rows:
            key = "archived" if row.archived_at is not None else row.status
            counts[key] = counts.get(key, 0) + 1
        parts = ", ".join(f"{n} {k}" for k, n in sorted(counts.items()))
        say(f"  {label}: {len(rows)}/{total} recorded: {parts}")

    return show


def delays(rows: list[Row], field: str) -> list[float]:
    out = []
    for row in rows:
        at, finished = getattr(row, field), row.finished
        if at is not None and finished is not None:
            out.append(at - finished)
    return out


def job_figures(rows: list[Row], sent: list[Sent], jobs: int) -> Figures:
    """What the database says of a run's jobs, with what the members' POSTs said."""
    refused = [s for s in sent if s.status != 302]
    ended_badly = [r for r in rows if r.status in FAILED]
    unarchived = [r for r in rows if r.archived_at is None and r.status not in FAILED]
    posts = [s.seconds for s in sent if s.status == 302]
    archive = delays(rows, "archived_at")
    return {
        "jobs": jobs,
        "recorded": len(rows),
        "posts_not_302": len(refused),
        "post_errors": sorted({f"{s.status} {s.error}"[:160] for s in refused})[:5],
        "ended_failed": len(ended_badly),
        "ended_statuses": sorted({r.status for r in ended_badly}),
        "failed_submissions": len(refused) + len(ended_badly),
        "unarchived": len(unarchived) + (jobs - len(rows) - len(refused)),
        "submit_p50": round(statistics.median(posts), 4) if posts else None,
        "submit_p95": round(percentile(posts, 95) or 0, 4) if posts else None,
        "submit_max": round(max(posts), 4) if posts else None,
        "detection": spread(delays(rows, "detected_at")),
        "archive": spread(archive) | {"p50": spread(archive)["median"]},
        "send_delay": spread([d for r in rows if (d := r.send_delay) is not None]),
    }


def request_figures(stats: dict[str, int], jobs: int) -> Figures:
    minimum = jobs * MIN_REQUESTS_PER_JOB
    looks = stats.get("retrieve", 0) + stats.get("list", 0)
    return {
        "throttled": stats.get("throttled", 0),
        "status_per_job": round(looks / jobs, 2),
        "total_requests": stats.get("total", 0),
        "minimum_requests": minimum,
        "requests_vs_minimum": round(stats.get("total", 0) / minimum, 3),
        "by_kind": {k: v for k, v in stats.items() if v and k not in {"total", "throttled"}},
    }


def run_small(
    app: AppProcess, kinds: tuple[Kind, ...], jobs: int, seed: int, timeout: float
) -> Figures:
    members = member_names(2)
    work = plan("small", jobs=jobs, members=members, window=0.0, seed=seed, kinds=kinds)
    say(f"small: {jobs} jobs from {len(members)} members at once (a cold app)")
    sent = submit_all(app.url, PASSWORD, work, stop=STOP)
    rows, done = wait_for_rows(
        app.db, "small", jobs, timeout=timeout, stop=STOP,
        progress=progress_printer("small", jobs),
    )  # fmt: skip
    figures = job_figures(rows, sent, jobs) | {"finished_in_time": done}
    say(f"  detection median {fmt_s(figures['detection']['median'])}")
    return figures


def run_main(
    app: AppProcess, sim: SimulatorProcess, kinds: tuple[Kind, ...], args: argparse.Namespace
) -> tuple[Figures, list[Job]]:
    members = member_names(args.members)
    work = plan(
        "main", jobs=args.jobs, members=members, window=args.window, seed=args.seed, kinds=kinds
    )
    say(f"main: {args.jobs} jobs from {args.members} members over {args.window:.0f} s")
    sim.stats(reset=True)
    cpu_app, cpu_sim, began = app.cpu(), sim.cpu(), time.monotonic()
    with MachineLoad() as load:
        sent = submit_all(app.url, PASSWORD, work, stop=STOP)
        say(f"  all sent in {time.monotonic() - began:.0f} s; waiting for the archives")
        left = args.timeout - (time.monotonic() - began)
        rows, done = wait_for_rows(
            app.db, "main", args.jobs, timeout=max(left, 0), stop=STOP,
            progress=progress_printer("main", args.jobs),
        )  # fmt: skip
    stats = sim.stats()
    figures = job_figures(rows, sent, args.jobs) | request_figures(stats, args.jobs)
    figures |= {
        "finished_in_time": done,
        "seconds": round(time.monotonic() - began, 1),
        "cpu_seconds": {
            "app": round(app.cpu() - cpu_app, 1),
            "simulator": round(sim.cpu() - cpu_sim, 1),
        },
        "machine_busy": load.summary(),
    }
    return figures, work


def run_queue(app: AppProcess, kinds: tuple[Kind, ...], queued: int, seed: int) -> Figures:
    """Member A sends `queued` jobs as fast as the form allows, then B sends one."""
    a, b = member_names(2)
    kind = min(kinds, key=lambda k: k.base)
    work = plan("queue", jobs=queued + 1, members=[a], window=0.0, seed=seed, kinds=(kind,))
    work[-1] = Job("queue", queued, b, 0.0, kind, work[-1].duration)
    say(f"queue: {a} sends {queued} jobs as fast as the form allows, then {b} sends 1")
    began = time.monotonic()
    sent = submit_all(app.url, PASSWORD, work[:queued], stop=STOP)
    a_seconds = time.monotonic() - began
    sent += submit_all(app.url, PASSWORD, work[queued:], stop=STOP)

    def b_sent(rows: list[Row]) -> bool:
        return any(r.member == b and r.submitted_at is not None for r in rows)

    rows, done = wait_for_rows(app.db, "queue", queued + 1, timeout=180, stop=STOP, done=b_sent)
    mine = next((r for r in rows if r.member == b), None)
    delay = mine.send_delay if mine is not None else None
    ahead = None
    if mine is not None and mine.created_at is not None:
        # A's jobs not yet sent when B's was recorded: the queue B's job jumped.
        ahead = sum(
            1
            for r in rows
            if r.member == a and (r.submitted_at is None or r.submitted_at > mine.created_at)
        )
    order = sorted((r.submitted_at, r.member) for r in rows if r.submitted_at is not None)
    position = next((i + 1 for i, (_, m) in enumerate(order) if m == b), None)
    figures = {
        "queued": queued,
        "a_form_seconds": round(a_seconds, 1),
        "posts_not_302": sum(1 for s in sent if s.status != 302),
        "a_unsent_when_b_sent": ahead,
        "b_send_delay": round(delay, 3) if delay is not None else None,
        "b_send_position": position,  # among the sends seen by then (1: first)
        "b_sent_in_time": done,
    }
    say(
        f"  {b}'s send delay {fmt_s(figures['b_send_delay'])}, {ahead} of {a}'s jobs unsent "
        f"when it was queued; sent as number {position} of {len(order)}"
    )
    return figures


def offered_kinds(app: AppProcess) -> tuple[Kind, ...]:
    browser = Browser(app.url, STAFF, PASSWORD)
    try:
        models = browser.models()
    finally:
        browser.close()
    kinds = tuple(k for k in KINDS if k.model in models)
    if not kinds:
        raise RuntimeError(f"the form offers none of the benchmark's models: {sorted(models)}")
    return kinds


def strict_simulator(name: str, root: Path) -> SimulatorProcess:
    """A simulator on a port of its own, as strict as the issue asks."""
    return start_simulator(
        f"simulator ({name})",
        root / f"simulator-{name}.log",
        rate_per_minute=RATE_PER_MINUTE,
        burst=BURST,
        queue_seconds=QUEUE_SECONDS,
    )


def warm(sim: SimulatorProcess, kinds: tuple[Kind, ...]) -> None:
    """Every stock clip rendered before the clock starts (one per size and length)."""
    clips = {(k.seconds, k.size): (k.model, k.seconds, k.size) for k in kinds}
    sim.warm(list(clips.values()), rate_per_minute=RATE_PER_MINUTE)


# --- The baselines --------------------------------------------------------------------------


def baseline_figures(tracks: list[Track], caller: Caller, stats: dict[str, int]) -> Figures:
    def since_finish(track: Track, at: float | None) -> float | None:
        job = decode_id(track.provider_id) if track.provider_id else None
        return at - job.finished if at is not None and job is not None else None

    detect = [d for t in tracks if (d := since_finish(t, t.detected_at)) is not None]
    archive = [d for t in tracks if (d := since_finish(t, t.archived_at)) is not None]
    creates = [t.create_seconds for t in tracks if t.create_seconds is not None]
    jobs = len(tracks)
    return {
        "jobs": jobs,
        "failed_submissions": sum(1 for t in tracks if t.status in {"refused", "failed"}),
        "unarchived": sum(1 for t in tracks if t.archived_at is None and t.status != "failed"),
        "throttled_counted": caller.throttled,
        "unanswered_requests": caller.unreachable,
        # Sent the moment it is submitted: the wait is the create call, 429s included.
        "send_delay": spread(creates),
        "detection": spread(detect),
        "archive": spread(archive) | {"p50": spread(archive)["median"]},
    } | request_figures(stats, jobs)


def run_baselines(
    work: list[Job], kinds: tuple[Kind, ...], root: Path, args: argparse.Namespace
) -> dict[str, Figures]:
    runners = {"naive": run_naive, "sweep": run_sweep}
    sims = {name: strict_simulator(name, root) for name in runners}
    CHILDREN.extend(s.child for s in sims.values())
    warming = [threading.Thread(target=warm, args=(sim, kinds)) for sim in sims.values()]
    for thread in warming:
        thread.start()
    for thread in warming:
        thread.join()
    results: dict[str, tuple[list[Track], Caller]] = {}
    errors: dict[str, BaseException] = {}
    timing: dict[str, float] = {}

    def one(name: str) -> None:
        folder = root / f"downloads-{name}"
        folder.mkdir()
        began = time.monotonic()
        try:
            results[name] = runners[name](
                sims[name].url, work, workdir=folder, stop=STOP, timeout=args.timeout
            )
        except BaseException as exc:  # reported below, with the other's results
            errors[name] = exc
        timing[name] = round(time.monotonic() - began, 1)

    mode = "one after the other" if args.serial_baselines else "side by side"
    say(f"baselines: naive 5 s and fixed 15 s, {len(work)} jobs each, {mode}")
    cpu_self, cpu_sims = time.process_time(), {n: s.cpu() for n, s in sims.items()}
    began = time.monotonic()
    with MachineLoad() as load:
        if args.serial_baselines:
            for name in runners:
                one(name)
        else:
            threads = [threading.Thread(target=one, args=(n,), daemon=True) for n in runners]
            for thread in threads:
                thread.start()
            for thread in threads:
                while thread.is_alive():
                    thread.join(0.5)
    wall = time.monotonic() - began
    out: dict[str, Figures] = {}
    for name, sim in sims.items():
        if name in errors:
            raise RuntimeError(f"the {name} baseline failed") from errors[name]
        tracks, caller = results[name]
        out[name] = baseline_figures(tracks, caller, sim.stats()) | {
            "seconds": timing[name],
            "cpu_seconds": {"simulator": round(sim.cpu() - cpu_sims[name], 1)},
        }
        sim.child.stop()
    out["baseline_phase"] = {
        "mode": mode,
        "seconds": round(wall, 1),
        "harness_cpu_seconds": round(time.process_time() - cpu_self, 1),
        "machine_busy": load.summary(),
    }
    return out


# --- Report -------------------------------------------------------------------------------


def fmt_s(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f} s"


def fmt(value: Any, digits: int = 2) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    return str(value)


def targets(app: Figures, small: Figures) -> dict[str, dict[str, Any]]:
    det, arch = app["detection"], app["archive"]
    archived_all = app["unarchived"] == 0 and app["recorded"] + app["posts_not_302"] >= app["jobs"]
    checks: dict[str, tuple[Any, str, bool]] = {
        "throttled": (app["throttled"], "0", app["throttled"] == 0),
        "failed_submissions": (app["failed_submissions"], "0", app["failed_submissions"] == 0),
        "submit_p95": (app["submit_p95"], "<= 0.3 s", _le(app["submit_p95"], 0.3)),
        "status_per_job": (app["status_per_job"], "<= 4", _le(app["status_per_job"], 4)),
        "detection_median": (det["median"], "<= 5 s", _le(det["median"], 5)),
        "detection_p95": (det["p95"], "<= 15 s", _le(det["p95"], 15)),
        "archive_max": (arch["max"], "all, <= 600 s", archived_all and _le(arch["max"], 600)),
        "requests_vs_minimum": (
            app["requests_vs_minimum"], "<= 1.4 x", _le(app["requests_vs_minimum"], 1.4)
        ),
        "small_detection_median": (
            small["detection"]["median"], "<= 2 s", _le(small["detection"]["median"], 2)
        ),
    }  # fmt: skip
    return {k: {"value": v, "target": t, "pass": ok} for k, (v, t, ok) in checks.items()}


def _le(value: float | None, limit: float) -> bool:
    return value is not None and value <= limit


def print_table(
    app: Figures, small: Figures, queue: Figures, base: dict[str, Figures], verdicts: Figures
) -> None:
    naive, sweep = base.get("naive", {}), base.get("sweep", {})

    def get(figures: Figures, *path: str) -> Any:
        value: Any = figures
        for key in path:
            value = value.get(key) if isinstance(value, dict) else None
        return value

    rows: list[tuple[str, tuple[str, ...], str | None]] = [
        ("429s received", ("throttled",), "throttled"),
        ("failed submissions", ("failed_submissions",), "failed_submissions"),
        ("jobs not archived in time", ("unarchived",), None),
        ("submit latency p50 (POST), s", ("submit_p50",), None),
        ("submit latency p95 (POST), s", ("submit_p95",), "submit_p95"),
        ("send delay p95 (submit -> send), s", ("send_delay", "p95"), None),
        ("status requests per job", ("status_per_job",), "status_per_job"),
        ("detection delay median, s", ("detection", "median"), "detection_median"),
        ("detection delay p95, s", ("detection", "p95"), "detection_p95"),
        ("detection delay max, s", ("detection", "max"), None),
        ("archive delay p50, s", ("archive", "p50"), None),
        ("archive delay p95, s", ("archive", "p95"), None),
        ("archive delay max, s", ("archive", "max"), "archive_max"),
        ("provider requests, total", ("total_requests",), None),
        ("minimum (create+status+3 files)/job", ("minimum_requests",), None),
        ("total / minimum", ("requests_vs_minimum",), "requests_vs_minimum"),
    ]
    width = 38
    head = f"{'':<{width}} {'app':>9} {'':<4} {'naive 5 s':>10} {'fixed 15 s':>10}   target"
    say("")
    say(head)
    say("-" * len(head))
    for label, path, check in rows:
        verdict = target = ""
        if check is not None:
            target = verdicts[check]["target"]
            verdict = "PASS" if verdicts[check]["pass"] else "MISS"
        digits = 3 if check == "requests_vs_minimum" else 2  # 1.403 is not 1.40
        cells = [fmt(get(f, *path), digits) for f in (app, naive, sweep)]
        if label.startswith("submit"):
            cells[1:] = ["n/a", "n/a"]
        say(f"{label:<{width}} {cells[0]:>9} {verdict:<4} {cells[1]:>10} {cells[2]:>10}   {target}")
    small_check = verdicts["small_detection_median"]
    verdict = "PASS" if small_check["pass"] else "MISS"
    say(
        f"{'10 in flight: detection median, s':<{width}} {fmt(small_check['value']):>9} "
        f"{verdict:<4} {'':>10} {'':>10}   {small_check['target']}"
    )
    label = f"teammate behind a {queue['queued']}-job queue: send, s"
    say(
        f"{label:<{width}} {fmt(queue['b_send_delay']):>9} "
        f"{'':<4} {'':>10} {'':>10}   ({queue['a_unsent_when_b_sent']} of the queue unsent then)"
    )
    say("")
    for name, figures in (("app", app), ("naive", naive), ("sweep", sweep)):
        if figures:
            lost = figures.get("unanswered_requests")
            tail_note = f"; {lost} got no answer (connection refused or dropped)" if lost else ""
            say(f"requests by kind, {name}: {dump(figures.get('by_kind', {}))}{tail_note}")


# --- Main -----------------------------------------------------------------------------------

CHILDREN: list[Child] = []


def _interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    began = time.monotonic()
    # Explicitly: a shell that starts us in the background would have SIGINT ignored.
    signal.signal(signal.SIGINT, _interrupt)
    signal.signal(signal.SIGTERM, _interrupt)
    signal.signal(signal.SIGHUP, _interrupt)
    root = Path(tempfile.mkdtemp(prefix="videostudio-fleet-"))
    phases: dict[str, float] = {}
    mark = [began]

    def lap() -> float:
        now = time.monotonic()
        seconds, mark[0] = round(now - mark[0], 1), now
        return seconds

    figures: Figures = {
        "bench": "fleet",
        "config": {
            "jobs": args.jobs, "members": args.members, "window": args.window,
            "seed": args.seed, "rate_per_minute": RATE_PER_MINUTE, "burst": BURST,
            "queue_seconds": QUEUE_SECONDS, "small_jobs": args.small_jobs,
            "queue_jobs": args.queue_jobs,
        },
    }  # fmt: skip
    try:
        sim = strict_simulator("app", root)
        CHILDREN.append(sim.child)
        say(f"simulator {sim.url}: rendering its stock clips before the clock starts")
        warm(sim, KINDS)
        say("starting the app (migrate, accounts, then gunicorn + qcluster)")
        app = start_app(root / "app", sim.url, members=args.members, log_path=root / "app.log")
        CHILDREN.append(app.child)
        say(f"app {app.url} (data dir {app.data_dir})")
        kinds = offered_kinds(app)
        phases["start"] = lap()
        small = run_small(app, kinds, args.small_jobs, args.seed, timeout=min(args.timeout, 300))
        phases["small"] = lap()
        main_figures, work = run_main(app, sim, kinds, args)
        phases["main"] = lap()
        queue = run_queue(app, kinds, args.queue_jobs, args.seed)
        phases["queue"] = lap()
        app.child.stop()
        sim.child.stop()
        problems = log_problems(app.child.log_path)
        figures |= {"app": main_figures, "small": small, "queue": queue, "app_log": problems}
        base: dict[str, Figures] = {}
        if not args.no_baselines:
            base = run_baselines(work, kinds, root, args)
            figures |= base
            phases["baselines"] = lap()
        verdicts = targets(main_figures, small)
        figures["targets"] = verdicts
        print_table(main_figures, small, queue, base, verdicts)
        counts = problems["counts"]
        say(
            f"app log: {counts['ERROR']} errors, {counts['WARNING']} warnings, "
            f"{counts['Traceback']} tracebacks"
        )
        for line in problems["samples"]:
            say(f"  {line}")
        if main_figures["post_errors"]:
            say(f"answers other than 302: {main_figures['post_errors']}")
        busy = main_figures["machine_busy"]
        line = f"machine CPU busy (both cores, everyone's): main run mean {busy['mean']}, "
        line += f"peak {busy['max']}"
        if base:
            phase = base["baseline_phase"]
            line += (
                f"; baselines {phase['mode']}: mean {phase['machine_busy']['mean']}, peak "
                f"{phase['machine_busy']['max']}, harness {phase['harness_cpu_seconds']} s CPU, "
                f"simulators {base['naive']['cpu_seconds']['simulator']} + "
                f"{base['sweep']['cpu_seconds']['simulator']} s CPU"
            )
        say(line)
        figures["phase_seconds"] = phases
        figures["wall_seconds"] = round(time.monotonic() - began, 1)
        say(
            f"wall time {figures['wall_seconds']:.0f} s ("
            + ", ".join(f"{name} {seconds:.0f} s" for name, seconds in phases.items())
            + ")"
        )
        say(dump(figures))
        return 0
    except KeyboardInterrupt:
        say("interrupted: stopping everything")
        return 130
    except Exception:
        # Keep the evidence: the logs and the database stay for a look.
        args.keep = True
        for log in sorted(root.glob("*.log")):
            say(f"--- last lines of {log}:\n{tail(log)}")
        raise
    finally:
        STOP.set()
        for child in reversed(CHILDREN):
            child.stop()
        if args.keep:
            say(f"kept {root}")
        else:
            shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
