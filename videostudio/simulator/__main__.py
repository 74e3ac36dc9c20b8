"""`python -m videostudio.simulator`: serve the simulator on a port."""

from __future__ import annotations

import argparse
import sys

from videostudio.simulator.server import make_simulator_server


def main(argv: list[str] | None = None) -> int:
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
    args = parser.parse_args(argv)

    server = make_simulator_server(
        args.host,
        args.port,
        queue_seconds=args.queue_seconds,
        render_seconds=args.render_seconds,
        expire_seconds=args.expire_seconds,
        dialect=args.dialect,
        api_key=args.api_key,
        fps=args.fps,
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
