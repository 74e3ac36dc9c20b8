"""A fake Videos API provider (Poe's Sora/Veo contract) as a plain WSGI app.

Use it in-process (`Simulator().transport()` for httpx) or on a port
(`python -m videostudio.simulator --port 8001`, or `serve()` in tests). No Django
here: the simulator must run anywhere the provider client runs.

It prices like Poe (`catalog`), starts with `DEFAULT_STARTING_BALANCE` points,
never charges a job that fails, and stamps each charge in the points history when
the job is sent or, with `charge_at="completion"`, when it completes (`app`).
"""

from __future__ import annotations

from videostudio.simulator.app import CHARGE_AT_CHOICES, DEFAULT_STARTING_BALANCE, Simulator
from videostudio.simulator.server import SimulatorServer, serve

__all__ = [
    "CHARGE_AT_CHOICES",
    "DEFAULT_STARTING_BALANCE",
    "Simulator",
    "SimulatorServer",
    "serve",
]
