"""A fake Videos API provider (Poe's Sora/Veo contract) as a plain WSGI app.

Use it in-process (`Simulator().transport()` for httpx) or on a port
(`python -m videostudio.simulator --port 8001`, or `serve()` in tests). No Django
here: the simulator must run anywhere the provider client runs.
"""

from __future__ import annotations

from videostudio.simulator.app import Simulator
from videostudio.simulator.server import SimulatorServer, serve

__all__ = ["Simulator", "SimulatorServer", "serve"]
