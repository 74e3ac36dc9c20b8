"""Which handler answers a request, and under which kind it is counted.

Routing never raises: an unknown path or a wrong method resolves to a handler
that refuses it (404, or 405 with Allow), so the refusal comes in its turn, after
injected faults, authentication and the rate limit, as a real provider's would.
An endpoint the simulated provider lacks (`serves` says no) answers 404 like a
path that never existed, and is left out of a 405's Allow.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from videostudio.simulator.web import ApiError, Request, Response

Handler = Callable[[Request, dict[str, str]], Response]
Route = tuple[str, Handler]  # (kind, for the stats; handler)
Resolved = tuple[str, Handler, dict[str, str]]  # (kind, handler, path parameters)


class Router:
    """Routes are tried in order; the first pattern that matches the path wins."""

    def __init__(
        self, routes: list[tuple[str, dict[str, Route]]], *, serves: Callable[[str], bool]
    ) -> None:
        self._routes = [(re.compile(pattern), methods) for pattern, methods in routes]
        self._serves = serves

    def resolve(self, request: Request) -> Resolved:
        for pattern, methods in self._routes:
            match = pattern.match(request.path)
            if match is None:
                continue
            served = {method: route for method, route in methods.items() if self._serves(route[0])}
            route = served.get(request.method)
            if route is not None:
                params = {k: v for k, v in match.groupdict().items() if v is not None}
                return route[0], route[1], params
            kind = methods[request.method][0] if request.method in methods else "other"
            if request.method in methods or not served:
                return kind, _refuse(_no_such_endpoint(request.path)), {}
            error = ApiError(
                405,
                f"Method {request.method} is not allowed on {request.path}",
                headers=[("Allow", ", ".join(sorted(served)))],
            )
            return "other", _refuse(error), {}
        return "other", _refuse(_no_such_endpoint(request.path)), {}


def _refuse(error: ApiError) -> Handler:
    def refuse(request: Request, params: dict[str, str]) -> Response:
        raise error

    return refuse


def _no_such_endpoint(path: str) -> ApiError:
    return ApiError(404, f"No such endpoint: {path}")
