"""`python -m videostudio.simulator`: serve the simulator on a port.

`--charge-at completion` stamps each charge in the points history with the job's
completion time (hidden until then) instead of its send time; the balance drops
at send either way. The balance starts at `app.DEFAULT_STARTING_BALANCE`.

`--rate-per-minute N` plays a strict provider: one bucket for every request with
a key, `--burst B` at once (N when not given), then N a minute; beyond that, 429
with Retry-After. `--stock-media` renders one clip per size and length for all
jobs (for benchmarks of hundreds of jobs), `--list-endpoint` adds `GET /v1/videos`.
`GET /_simulator/stats` (no key needed) counts the requests; `?reset=1` zeroes them.
`GET /_simulator/jobs[?hashes=1]` lists the jobs made, their charges (and file hashes).
Random faults for soak tests: `--error-rate`, `--slow-rate`, `--malformed-rate`,
`--cut-rate`, `--fail-rate`, `--burst-429 EVERY:SECONDS` (see `faults.Chaos`).
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass

from videostudio.simulator import catalog
from videostudio.simulator.app import CHARGE_AT_CHOICES
from videostudio.simulator.faults import Chaos
from videostudio.simulator.server import make_simulator_server


@dataclass(frozen=True)
class Injection:
    """One `--inject STATUS[:COUNT[:PATH_SUBSTRING]]`, as `Simulator.inject_error` takes it."""

    status: int
    count: int = 1
    path_contains: str = ""


def parse_injection(text: str) -> Injection:
    # Split twice at most: the path part may itself hold a colon.
    status, _, rest = text.partition(":")
    count, _, path = rest.partition(":")
    try:
        injection = Injection(int(status), int(count) if count else 1, path)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected STATUS[:COUNT[:PATH_SUBSTRING]], e.g. 429:3:/videos, not {text!r}"
        ) from None
    if not 400 <= injection.status <= 599:
        raise argparse.ArgumentTypeError(f"STATUS must be an HTTP error (400-599), not {status}")
    if injection.count < 1:
        raise argparse.ArgumentTypeError(f"COUNT must be at least 1, not {count}")
    return injection


def parse_models(text: str) -> tuple[str, ...]:
    names = tuple(name.strip() for name in text.split(",") if name.strip())
    try:
        catalog.resolve_models(names)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    return names


def positive_int(text: str) -> int:
    try:
        number = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, not {text!r}") from None
    if number < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, not {number}")
    return number


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m videostudio.simulator",
        description="A fake OpenAI-compatible Videos API (Poe dialect by default).",
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8001, help="0 picks a free port")
    parser.add_argument("--queue-seconds", type=float, default=2.0)
    parser.add_argument("--render-seconds", type=float, default=20.0)
    parser.add_argument("--expire-seconds", type=float, default=3600.0)
    parser.add_argument("--dialect", choices=("poe", "openai"), default="poe")
    parser.add_argument("--api-key", default=None, help="accept only this key (default: any)")
    parser.add_argument("--fps", type=int, default=12)
    parser.add_argument(
        "--models",
        type=parse_models,
        default=None,
        metavar="NAME,NAME",
        help=(
            "the video models offered (default: "
            + ",".join(catalog.DEFAULT_MODELS)
            + "; also known: "
            + ",".join(m.name for m in catalog.VIDEO_MODELS if not m.offered_by_default)
            + ")"
        ),
    )
    parser.add_argument(
        "--no-models-endpoint",
        dest="models_endpoint",
        action="store_false",
        help="answer 404 to GET /v1/models, like a provider without that endpoint",
    )
    parser.add_argument(
        "--charge-at",
        choices=CHARGE_AT_CHOICES,
        default="send",
        help="when a charge is stamped in the points history: when the job is sent "
        "(default) or when it completes (hidden until then); the balance drops at send",
    )
    parser.add_argument(
        "--slow-seconds",
        type=float,
        default=5.0,
        help="how long a create whose prompt holds [slow] waits, after charging, to answer",
    )
    parser.add_argument(
        "--rate-per-minute",
        type=positive_int,
        default=None,
        metavar="N",
        help="answer 429 beyond N requests a minute, for the whole key (default: unlimited)",
    )
    parser.add_argument(
        "--burst",
        type=positive_int,
        default=None,
        metavar="B",
        help="how many requests may come at once (default: the rate; needs --rate-per-minute)",
    )
    parser.add_argument(
        "--stock-media",
        action="store_true",
        help="serve every job of one size and length the same clip, rendered once",
    )
    parser.add_argument(
        "--list-endpoint",
        action="store_true",
        help="answer GET /v1/videos with the jobs made here, newest first (OpenAI style)",
    )
    parser.add_argument(
        "--inject",
        type=parse_injection,
        action="append",
        default=[],
        metavar="STATUS[:COUNT[:PATH_SUBSTRING]]",
        help="answer the next COUNT (1) requests whose path contains PATH_SUBSTRING with "
        "error STATUS; repeatable",
    )
    faults = parser.add_argument_group(
        "random faults (soak tests)",
        "each RATE is a fraction from 0 to 1 of the requests (or, --fail-rate, new jobs) it hits",
    )
    faults.add_argument(
        "--error-rate",
        type=rate,
        default=0.0,
        metavar="RATE",
        help="answer 500 (the provider's envelope) before doing anything",
    )
    faults.add_argument(
        "--slow-rate",
        type=rate,
        default=0.0,
        metavar="RATE",
        help="answer --slow-answer-seconds late, after doing the work",
    )
    faults.add_argument("--slow-answer-seconds", type=float, default=10.0, metavar="S")
    faults.add_argument(
        "--malformed-rate",
        type=rate,
        default=0.0,
        metavar="RATE",
        help="cut a 200's JSON body off halfway, after doing the work",
    )
    faults.add_argument(
        "--cut-rate", type=rate, default=0.0, metavar="RATE", help="break a download off halfway"
    )
    faults.add_argument(
        "--fail-rate",
        type=rate,
        default=0.0,
        metavar="RATE",
        help="make a new job fail at the provider (never charged)",
    )
    faults.add_argument(
        "--burst-429",
        type=burst,
        default=(0.0, 0.0),
        metavar="EVERY:SECONDS",
        help="answer 429 to everything for SECONDS of every EVERY seconds",
    )
    faults.add_argument("--fault-seed", type=int, default=None, help="seed the random faults")
    return parser  # fmt: skip


def rate(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a fraction, not {text!r}") from None
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(f"must be between 0 and 1, not {value}")
    return value


def burst(text: str) -> tuple[float, float]:
    every, _, length = text.partition(":")
    try:
        pair = float(every), float(length)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected EVERY:SECONDS, e.g. 120:5, not {text!r}"
        ) from None
    if not 0 < pair[1] < pair[0]:
        raise argparse.ArgumentTypeError("SECONDS must be above 0 and below EVERY")
    return pair


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.burst is not None and args.rate_per_minute is None:
        parser.error("--burst needs --rate-per-minute")

    server = make_simulator_server(
        args.host,
        args.port,
        queue_seconds=args.queue_seconds,
        render_seconds=args.render_seconds,
        expire_seconds=args.expire_seconds,
        dialect=args.dialect,
        api_key=args.api_key,
        fps=args.fps,
        models=args.models,
        models_endpoint=args.models_endpoint,
        charge_at=args.charge_at,
        slow_seconds=args.slow_seconds,
        rate_per_minute=args.rate_per_minute,
        burst=args.burst,
        stock_media=args.stock_media,
        list_endpoint=args.list_endpoint,
        chaos=Chaos(
            error_rate=args.error_rate,
            slow_rate=args.slow_rate,
            slow_seconds=args.slow_answer_seconds,
            malformed_rate=args.malformed_rate,
            cut_rate=args.cut_rate,
            fail_rate=args.fail_rate,
            burst_every=args.burst_429[0],
            burst_seconds=args.burst_429[1],
            seed=args.fault_seed,
        ),
    )
    for injection in args.inject:
        server.simulator.inject_error(
            injection.status, count=injection.count, path_contains=injection.path_contains
        )
    # Scripts wait for this line (and read the real port from it when --port 0).
    print(f"Simulator listening on {server.url}", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
