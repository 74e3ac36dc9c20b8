"""One client for the provider's Videos and Usage APIs.

Every call goes through `_call`, which owns the two rules that cost money when
broken: a create (or remix, or extension) is only sent again when it certainly
never reached the provider, and a 429 closes the gate for every thread sharing
this client until Retry-After has passed. With a `limiter`, every attempt
(retries too: each one spends the team's request budget) first takes its turn.
A download that breaks off is retried there too, resumed where it stopped
(`download.py`).
"""

from __future__ import annotations

import base64
import json
import logging
import random as _random
import re
import time
from collections.abc import Callable
from pathlib import Path
from types import TracebackType
from typing import Any, TypeVar
from urllib.parse import quote

import httpx

from videostudio.provider.download import PartialFile
from videostudio.provider.errors import (
    ConnectionLost,
    ListUnsupported,
    ProtocolError,
    ProviderError,
    ProviderServerError,
    ProviderTimeout,
    ProviderUnreachable,
    RateLimited,
    error_from_response,
)
from videostudio.provider.ratelimit import LocalRateGate, RateGate, RateLimiter
from videostudio.provider.types import Download, HistoryPage, RemoteModel, RemoteVideo, VideoPage

logger = logging.getLogger(__name__)

T = TypeVar("T")

# However long a provider asks us to wait, a worker should come back within a minute.
MAX_RETRY_AFTER = 60.0
_IMAGE_MODES = ("multipart", "json")


class ProviderClient:
    """Thread-safe: one instance (one connection pool) serves a whole worker process."""

    def __init__(
        self,
        *,
        base_url: str,
        api_key: str,
        transport: httpx.BaseTransport | None = None,
        timeout: float = 30.0,
        max_retries: int = 3,
        backoff_base: float = 0.25,
        backoff_cap: float = 8.0,
        sleep: Callable[[float], None] = time.sleep,
        random: Callable[[], float] = _random.random,
        clock: Callable[[], float] = time.monotonic,
        usage_base_url: str | None = None,
        user_agent: str = "videostudio/0.1",
        gate: RateGate | None = None,
        limiter: RateLimiter | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        # Poe serves usage beside /v1, not under it: https://api.poe.com/usage/...
        self.usage_base_url = (usage_base_url or re.sub(r"/v1$", "", self.base_url)).rstrip("/")
        self._max_retries = max(0, max_retries)
        self._backoff_base = backoff_base
        self._backoff_cap = backoff_cap
        self._sleep = sleep
        self._random = random
        self._clock = clock
        self._gate: RateGate = gate or LocalRateGate(clock=clock, sleep=sleep)
        self._limiter = limiter  # None: no pacing, only the 429 gate
        headers = {"User-Agent": user_agent}
        if api_key:
            headers["Authorization"] = f"Bearer {api_key}"
        self._http = httpx.Client(
            base_url=self.base_url + "/",
            headers=headers,
            transport=transport,
            # A dead host should fail fast; a slow answer may legitimately take a while.
            timeout=httpx.Timeout(timeout, connect=min(timeout, 10.0)),
        )

    def __repr__(self) -> str:
        return f"ProviderClient(base_url={self.base_url!r})"

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> ProviderClient:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    # --- Videos ---------------------------------------------------------------

    def create_video(
        self,
        *,
        model: str,
        prompt: str,
        seconds: int | None = None,
        size: str | None = None,
        image: tuple[str, bytes, str] | None = None,
        image_mode: str = "multipart",
    ) -> RemoteVideo:
        """Submit a new video. `image` is (filename, bytes, content_type)."""
        if image_mode not in _IMAGE_MODES:
            raise ValueError(f"image_mode must be one of {_IMAGE_MODES}, not {image_mode!r}")
        fields: dict[str, Any] = {"model": model, "prompt": prompt}
        if seconds is not None:
            fields["seconds"] = int(seconds)
        if size:
            fields["size"] = size
        request: dict[str, Any]
        if image is not None and image_mode == "multipart":
            # Form fields are text; relays document `seconds` as an enum of strings.
            form = {key: str(value) for key, value in fields.items()}
            request = {"data": form, "files": {"input_reference": image}}
        else:
            if image is not None:
                fields["input_image"] = base64.b64encode(image[1]).decode("ascii")
            request = {"json": fields}
        return self._call("POST", "videos", _video, idempotent=False, **request)

    def retrieve_video(self, video_id: str) -> RemoteVideo:
        return self._call("GET", f"videos/{_segment(video_id)}", _video, idempotent=True)

    def remix_video(self, video_id: str, *, prompt: str) -> RemoteVideo:
        path = f"videos/{_segment(video_id)}/remix"
        return self._call("POST", path, _video, idempotent=False, json={"prompt": prompt})

    def extend_video(
        self, video_id: str, *, prompt: str, seconds: int | None = None
    ) -> RemoteVideo:
        body: dict[str, Any] = {"video": {"id": video_id}, "prompt": prompt}
        if seconds is not None:
            body["seconds"] = int(seconds)
        return self._call("POST", "videos/extensions", _video, idempotent=False, json=body)

    def list_videos(self, *, limit: int = 100, after: str | None = None) -> VideoPage:
        """One page of the key's videos, newest first; pass `page.last_id` as `after` next.

        Poe documents no list: a provider without one answers 404 (or 405), which
        raises `ListUnsupported` so the caller can fall back to polling each job.
        """
        params: dict[str, str | int] = {"limit": min(100, max(1, limit))}
        if after:
            params["after"] = after
        return self._call(
            "GET",
            "videos",
            lambda response: VideoPage.from_json(_json_object(response)),
            idempotent=True,
            refusal=_list_unsupported,
            params=params,
        )

    def download_content(
        self, video_id: str, dest: Path, *, variant: str | None = None
    ) -> Download:
        """Stream the video (or its `thumbnail` / `spritesheet`) into `dest`, atomically.

        `dest` either holds the complete file afterwards or is left as it was. A cut
        download is retried like any call, asking only for the bytes still missing.
        """
        partial = PartialFile(Path(dest))
        try:
            return self._call(
                "GET",
                f"videos/{_segment(video_id)}/content",
                partial.save,
                idempotent=True,
                per_attempt=partial.arguments,
                refusal=partial.refusal,
                params={"variant": variant} if variant else None,
                # Relays may hand the bytes to storage; httpx drops the key on a cross-origin hop.
                follow_redirects=True,
            )
        finally:
            partial.discard()

    # --- Models and usage -----------------------------------------------------

    def list_models(self) -> list[RemoteModel]:
        return self._call("GET", "models", _models, idempotent=True)

    def current_balance(self) -> int:
        url = f"{self.usage_base_url}/usage/current_balance"
        return self._call("GET", url, _balance, idempotent=True)

    def points_history(self, *, limit: int = 100, starting_after: str | None = None) -> HistoryPage:
        """One page of point spending, newest first; pass `page.last_query_id` for the next."""
        params: dict[str, str | int] = {"limit": min(100, max(1, limit))}
        if starting_after:
            params["starting_after"] = starting_after
        url = f"{self.usage_base_url}/usage/points_history"
        return self._call(
            "GET",
            url,
            lambda response: HistoryPage.from_json(_json_object(response)),
            idempotent=True,
            params=params,
        )

    # --- The one way out --------------------------------------------------------

    def _call(
        self,
        method: str,
        url: str,
        handle: Callable[[httpx.Response], T],
        *,
        idempotent: bool,
        per_attempt: Callable[[], dict[str, Any]] | None = None,
        refusal: Callable[[ProviderError], ProviderError] | None = None,
        **request: Any,
    ) -> T:
        """`per_attempt` adds request arguments decided afresh for each attempt (a
        resumed download's Range); `refusal` says what an error means for this call
        (a list's 404: no list endpoint), before the rules below decide on a retry."""
        attempt = 0
        while True:
            self._gate.wait()
            if self._limiter is not None:
                self._limiter.acquire()
            arguments = request if per_attempt is None else {**request, **per_attempt()}
            try:
                return self._attempt(method, url, handle, arguments)
            except ProviderError as caught:
                error = caught if refusal is None else refusal(caught)
                refused = (error.status is not None and 400 <= error.status < 500) or (
                    _provider_said_failed(error)
                )
                if not idempotent and not refused and not isinstance(error, ProviderUnreachable):
                    # It may have been created and billed: the caller must look before resending.
                    error.outcome_unknown = True
                # A create is repeated only when the provider said it did nothing with it
                # (a 4xx such as 429); never after a 500, however definite it sounds.
                retry = error.transient and not error.outcome_unknown
                retry = retry and (idempotent or error.status is None or error.status < 500)
                retry = retry and attempt < self._max_retries
                if isinstance(error, RateLimited):
                    # Close the gate even when giving up: the other threads must wait too.
                    pause = self._delay(error, attempt)
                    self._gate.block_until(self._clock() + pause)
                    logger.warning("provider rate limit: pausing calls for %.1f s", pause)
                elif retry:
                    self._sleep(self._delay(error, attempt))
                if not retry:
                    if error is caught:
                        raise
                    raise error from caught
                logger.info("retrying %s %s after %s (attempt %d)", method, url, error, attempt + 1)
                attempt += 1

    def _delay(self, error: ProviderError, attempt: int) -> float:
        if error.retry_after is not None:
            return min(error.retry_after, MAX_RETRY_AFTER)
        # Full jitter: threads that failed together must not come back together.
        return self._random() * min(self._backoff_cap, self._backoff_base * 2**attempt)

    def _attempt(
        self,
        method: str,
        url: str,
        handle: Callable[[httpx.Response], T],
        request: dict[str, Any],
    ) -> T:
        started = self._clock()
        outcome: int | str = "failed"
        try:
            with self._http.stream(method, url, **request) as response:
                outcome = response.status_code
                if not response.is_success:
                    response.read()
                    raise error_from_response(response)
                return handle(response)
        except (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout) as exc:
            outcome = type(exc).__name__
            raise ProviderUnreachable(_describe(exc)) from exc
        except httpx.TimeoutException as exc:
            outcome = type(exc).__name__
            raise ProviderTimeout(_describe(exc)) from exc
        except (httpx.NetworkError, httpx.RemoteProtocolError) as exc:
            outcome = type(exc).__name__
            raise ConnectionLost(_describe(exc)) from exc
        except httpx.HTTPError as exc:
            outcome = type(exc).__name__
            raise ProviderError(_describe(exc)) from exc
        finally:
            elapsed = (self._clock() - started) * 1000
            path = self._http.base_url.join(url).path
            logger.debug("%s %s -> %s in %.0f ms", method, path, outcome, elapsed)


def _describe(exc: Exception) -> str:
    # httpx's own messages name the failure, never the request headers.
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__


def _segment(value: str) -> str:
    if not value:
        raise ValueError("a video id is required")
    return quote(value, safe="")


def _json_object(response: httpx.Response) -> dict[str, Any]:
    response.read()
    try:
        data = json.loads(response.content)
    except ValueError as exc:
        snippet = response.content[:200].decode("utf-8", errors="replace")
        raise ProtocolError(f"expected JSON, got {snippet!r}", status=response.status_code) from exc
    if not isinstance(data, dict):
        raise ProtocolError(
            f"expected a JSON object, got {type(data).__name__}", status=response.status_code
        )
    return data


def _video(response: httpx.Response) -> RemoteVideo:
    return RemoteVideo.from_json(_json_object(response))


def _models(response: httpx.Response) -> list[RemoteModel]:
    items = _json_object(response).get("data")
    if not isinstance(items, list):
        raise ProtocolError("the model list has no data array", status=response.status_code)
    models = []
    for item in items:
        try:
            models.append(RemoteModel.from_json(item))
        except ProtocolError:
            # One odd entry among hundreds must not stop a catalog sync.
            logger.debug("skipping a model entry without an id")
    return models


def _balance(response: httpx.Response) -> int:
    value = _json_object(response).get("current_point_balance")
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ProtocolError("the balance has no current_point_balance", status=response.status_code)
    return int(value)


def _list_unsupported(error: ProviderError) -> ProviderError:
    # 404: no such endpoint (Poe); 405: the path exists for POST only (some relays).
    if error.status in (404, 405):
        return ListUnsupported(
            error.message, status=error.status, code=error.code, error_type=error.error_type
        )
    return error


def _provider_said_failed(error: ProviderError) -> bool:
    """A 500 in the provider's own error envelope (`provider_error`): the provider
    answered that it failed the request, so nothing was made. A bare 5xx from a
    gateway (HTML, 502/503/504) says nothing of the kind."""
    return (
        isinstance(error, ProviderServerError)
        and error.status == 500
        and error.error_type == "provider_error"
    )
