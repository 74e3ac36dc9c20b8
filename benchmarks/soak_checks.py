"""What `soak.py` checks once the dust settles: the app's database beside the
simulator's own record of every job it made and every charge it took."""

from __future__ import annotations

import argparse
import hashlib
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import httpx
from fleet_stack import log_problems
from fleet_workload import _epoch, read_only

RESUME_WITHIN = 10.0  # seconds after a worker's restart
KIND = {"original": "create", "remix": "remix", "extension": "extension"}
VARIANT = {"video_file": "video", "thumbnail_file": "thumbnail", "spritesheet_file": "spritesheet"}
Figures = dict[str, Any]


class Simulator(Protocol):
    @property
    def root(self) -> str: ...


class Posted(Protocol):
    @property
    def key(self) -> str: ...
    @property
    def status(self) -> int: ...
    @property
    def lost(self) -> int: ...


@dataclass
class Restart:
    what: str
    killed: float
    restarted: float
    busy: int  # jobs under lease when it was killed
    resumed: float | None = None  # a new sweep held the lease
    beat_gap: float | None = None  # between the heartbeats either side of the kill


@dataclass
class Row:
    id: int
    key: str
    status: str
    kind: str
    model: str
    provider_id: str | None
    archived: bool
    files: dict[str, str]
    cost_points: int | None
    cost_source: str
    submitted_at: float | None


def read(db: Path) -> list[Row]:
    out = []
    for pk, prompt, status, kind, model, pid, archived, video, thumb, sprite, *rest in read_only(
        db,
        "SELECT id, prompt, status, kind, model, provider_id, archived_at, video_file,"
        " thumbnail_file, spritesheet_file, cost_points, cost_source, submitted_at"
        " FROM videos_video ORDER BY id",
    ):
        key = re.match(r"soak #\d+", prompt)
        files = {"video_file": video, "thumbnail_file": thumb, "spritesheet_file": sprite}
        out.append(
            Row(pk, key[0] if key else prompt, status, kind, model, pid or None,
                archived is not None, {k: v for k, v in files.items() if v},
                rest[0], rest[1] or "", _epoch(rest[2]))
        )  # fmt: skip
    return out


def ledger(db: Path) -> list[tuple[Any, ...]]:
    return read_only(db, "SELECT query_id, cost_points, video_id FROM usage_ledgerentry")


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 16), b""):
            digest.update(chunk)
    return digest.hexdigest()


def check_all(
    *,
    db: Path,
    media: Path,
    sim: Simulator,
    posts: Sequence[Posted],
    restarts: list[Restart],
    logs: list[Path],
    key: str,
) -> Figures:
    made = httpx.get(f"{sim.root}/_simulator/jobs", params={"hashes": "1"}, timeout=300).json()
    stats = httpx.get(f"{sim.root}/_simulator/stats", timeout=30).json()
    provider = {job["id"]: job for job in made["jobs"]}
    rows = read(db)
    checks: dict[str, tuple[bool, str]] = {}
    by_status: dict[str, int] = {}
    for row in rows:
        name = "archived" if row.archived else row.status
        by_status[name] = by_status.get(name, 0) + 1

    # Every form answered, and each recorded once.
    answered = [p for p in posts if p.status in (200, 302)]
    recorded = [p for p in posts if p.status == 302]
    keys = [row.key for row in rows]
    twice = sorted({k for k in keys if keys.count(k) > 1})
    missing = [p.key for p in recorded if p.key not in keys]
    checks["forms"] = (
        len(answered) == len(posts) and not twice and not missing,
        f"{len(recorded)} recorded, {len(answered) - len(recorded)} refused, "
        f"{len(posts) - len(answered)} unanswered of {len(posts)}; "
        f"{sum(p.lost for p in posts)} tries got no answer and were sent again; "
        f"recorded twice {twice or 'none'}, lost {missing or 'none'}",
    )

    # Every job the app knows at the provider is in the provider's final state, and so
    # is the app's record of it.
    wrong = []
    for row in rows:
        if row.provider_id is None:
            continue
        job = provider.get(row.provider_id)
        if job is None or job["status"] not in ("completed", "failed"):
            wrong.append(f"{row.key}: provider says {job and job['status']}")
        elif (job["status"] == "completed") != (row.status == "completed" and row.archived):
            wrong.append(f"{row.key}: provider {job['status']}, app {row.status}")
    checks["final state"] = (not wrong, f"{len(wrong)} differ {wrong[:3]}")

    stuck = [r.key for r in rows if not (r.archived or r.status in ("failed", "unconfirmed"))]
    unconfirmed = [r for r in rows if r.status == "unconfirmed"]
    checks["none stuck"] = (
        not stuck,
        f"{len(stuck)} stuck {stuck[:5]}; {len(unconfirmed)} unconfirmed (never resent; "
        "settled from the points history once their 38-minute window has passed)",
    )

    # None made twice: provider ids are unique, and a job the provider made that the
    # app never heard of is one of its unconfirmed sends (the answer was lost).
    ids = [r.provider_id for r in rows if r.provider_id]
    known = set(ids)
    orphans = sorted(
        (j for j in made["jobs"] if j["id"] not in known), key=lambda j: float(j["created"])
    )
    claimants = sorted(unconfirmed, key=lambda r: r.submitted_at or 0)
    unmatched = []
    for job in orphans:
        match = next(
            (
                r for r in claimants
                if r.model == job["model"] and KIND[r.kind] == job["kind"]
                and r.submitted_at is not None
                and r.submitted_at - 2 <= float(job["created"]) <= r.submitted_at + 120
            ),
            None,
        )  # fmt: skip
        if match is None:
            unmatched.append(job["id"][:24])
        else:
            claimants.remove(match)
    checks["none made twice"] = (
        len(ids) == len(known) and not unmatched and stats.get("create", 0) >= 0,
        f"{len(made['jobs'])} made at the provider for {len(rows)} jobs; "
        f"{len(orphans)} the app never heard of, each one of its unconfirmed sends"
        + (f"; NOT: {unmatched}" if unmatched else ""),
    )

    # Archived files are byte for byte what the provider serves.
    differ, compared = [], 0
    for row in rows:
        if not row.archived or row.provider_id not in provider:
            continue
        served = provider[row.provider_id].get("sha256") or {}
        for field_name, name in row.files.items():
            compared += 1
            path = media / name
            if not path.exists() or sha256(path) != served.get(VARIANT[field_name]):
                differ.append(f"{row.key} {VARIANT[field_name]}")
    checks["files identical"] = (
        not differ and compared > 0,
        f"{compared} files hashed, {len(differ)} differ {differ[:3]}",
    )

    # Points: once per charged job, none for failed ones.
    charges = [j["charge"] for j in made["jobs"] if j["charge"]]
    bad = []
    for row in rows:
        job = provider.get(row.provider_id or "")
        if job is None:
            if row.cost_points:
                bad.append(f"{row.key}: {row.cost_points} booked without a provider job")
            continue
        if job["charged_points"] != (row.cost_points or 0):
            bad.append(f"{row.key}: app {row.cost_points}, provider {job['charged_points']}")
        elif job["status"] == "failed" and (row.cost_points or job["charge"]):
            bad.append(f"{row.key}: failed but charged")
    entries = ledger(db)
    attributed = {video: query for query, _, video in entries if video is not None}
    misattributed = [
        r.key for r in rows
        if r.id in attributed and provider.get(r.provider_id or "", {}).get("charge")
        not in (None, attributed[r.id])
    ]  # fmt: skip
    charged = [j for j in made["jobs"] if j["charged_points"]]
    once = len(charges) == len(set(charges)) == len(charged)
    checks["points"] = (
        not bad and not misattributed and once,
        f"{len(charged)} jobs charged once each ({sum(j['charged_points'] for j in charged):,} "
        f"points), {sum(1 for j in made['jobs'] if j['fails'])} failed at the provider, none "
        f"charged; app = provider for every job {bad[:3] or ''}; ledger: {len(entries)} of "
        f"{len(charges)} charges copied, {len(attributed)} attributed, "
        f"{len(misattributed)} to a wrong job",
    )

    gaps = []
    for restart in restarts:
        if restart.what != "worker":
            continue
        after = None if restart.resumed is None else restart.resumed - restart.restarted
        gaps.append(after)
    checks["tracking resumes"] = (
        all(g is not None and g <= RESUME_WITHIN for g in gaps),
        "after each worker restart: "
        + ", ".join("never" if g is None else f"{g:.1f} s" for g in gaps)
        + f" (target <= {RESUME_WITHIN:.0f} s)",
    )

    tracebacks, leaks = [], []
    for log in logs:
        text = log.read_text(errors="replace") if log.exists() else ""
        if "Traceback" in text:
            tracebacks.append(log.name)
        if key in text:
            leaks.append(log.name)
    checks["clean logs"] = (
        not tracebacks and not leaks,
        f"{len(logs)} logs: tracebacks in {tracebacks or 'none'}, the key in {leaks or 'none'}",
    )
    problems = [log_problems(log) for log in logs]
    return {
        "checks": {name: {"pass": ok, "detail": detail} for name, (ok, detail) in checks.items()},
        "log_counts": {
            level: sum(p["counts"][level] for p in problems) for level in ("ERROR", "WARNING")
        },
        "log_samples": sorted({line for p in problems for line in p["samples"]})[:8],
        "statuses": by_status,
        "provider_stats": stats,
        "restarts": [restart.__dict__ for restart in restarts],
    }


def print_table(figures: Figures, args: argparse.Namespace) -> bool:
    print("")
    print(f"{'check':<18} {'':4}  detail")
    print("-" * 100)
    ok = True
    for name, check in figures["checks"].items():
        ok &= check["pass"]
        print(f"{name:<18} {'PASS' if check['pass'] else 'FAIL':4}  {check['detail']}")
    print("")
    for restart in figures["restarts"]:
        after = restart["resumed"] and restart["resumed"] - restart["restarted"]
        gap = restart["beat_gap"]
        print(
            f"{restart['what']} killed with {restart['busy']} jobs under lease: "
            + (
                f"tracking resumed {after:.1f} s after the restart "
                f"({restart['resumed'] - restart['killed']:.1f} s after the kill), "
                f"heartbeat gap {gap:.1f} s"
                if after
                else "restarted"
            )
        )
    stats = figures["provider_stats"]
    faults = {k: stats.get(k, 0) for k in ("injected", "slowed", "malformed", "cut", "burst")}
    print(f"faults played by the provider: {faults}; 429s from its limit: {stats.get('throttled')}")
    print(f"jobs: {figures['statuses']}")
    counts = figures["log_counts"]
    print(f"app logs: {counts['ERROR']} errors, {counts['WARNING']} warnings (expected: faults)")
    for line in figures["log_samples"]:
        print(f"  {line}")
    return ok
