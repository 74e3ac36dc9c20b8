"""The simulator: a WSGI app that speaks Poe's Videos API (and its OpenAI dialect).

Jobs live in their ids (see `jobs.py`) and their status follows the clock, so any
number of `Simulator` instances, in any number of processes, agree about a job.
Only the point balance and history are state: in memory, or in a shared file (`ledger.py`).

Prompt markers, for demos and tests: `[fail]` makes the job fail when it would
have completed; `[error:NNN]` answers HTTP NNN at once instead of creating a job
(on create, remix and extension alike, and before anything is charged); `[slow]`
makes and charges the job, then answers only after `slow_seconds` (a client that
times out first never learns the job's id). `[render:NN]` renders that job for NN
seconds (47.5 allowed) instead of `render_seconds`; its queue time stays
`queue_seconds`. The id carries the render time, so it holds for remixes and
extensions too and every instance agrees on it.

Rules beyond the docs, chosen to be permissive where Poe says nothing: a remix
needs a Sora source that has not failed (it may still be rendering, or expired);
an extension needs a Sora source that is `completed` (expired content is fine,
since nothing is read from it), and the lineage may total at most 120 seconds.

Models come and go (OpenAI retired its own Sora API), so what is offered is a
setting: `models=` names the video models offered (`catalog.DEFAULT_MODELS` by
default; it may change at run time through `.models`). A create, remix or
extension with a model that is not offered answers 404, as an unknown model does;
existing jobs of a withdrawn model can still be retrieved and downloaded.
`models_endpoint=False` plays a provider without `GET /v1/models`.

Points: the balance starts at `starting_balance` (`DEFAULT_STARTING_BALANCE`,
100,000,000, by default). A job costs its billed seconds times its model's price
at its size (`catalog`). A create, remix or extension is refused with 402 unless
the balance is above zero and covers the job's cost; that check applies to a
`[fail]` job too (a provider cannot know yet that it will fail), but a job that
fails is never charged: no history entry, and the balance does not move.

`charge_at` says how a charge shows in `GET /usage/points_history`:
"send" (the default) stamps the entry when the job is created; "completion"
stamps it with the job's completion time (`Job.finished`), and the entry is
invisible in the history until the clock reaches that stamp. In both modes the
points leave `GET /usage/current_balance` at once (they are held at send). The
history stays newest first as a total order, and a `starting_after` cursor keeps
working as entries stamped in the future become visible (see `ledger.py`).

For benchmarks against a strict provider: `rate_per_minute` (and `burst`) puts
one token bucket in front of every authenticated request (`throttle.py`; None,
the default, is unlimited); `stock_media` serves every job of one size and length
the same files (`content.py`); `list_endpoint` adds OpenAI's `GET /v1/videos`
(`listing.py`); content answers a byte Range, and `inject_cut` breaks downloads
off (`web.py`). `stats()` counts what was asked (`stats.py`), and so does
`GET /_simulator/stats[?reset=1]`: a test tool outside the API, so it needs no
key, spends no token and counts nothing.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import httpx

from videostudio.simulator import catalog, content, jobs, listing, validation
from videostudio.simulator.faults import Chaos, Faults
from videostudio.simulator.ledger import Ledger, UnknownCursor
from videostudio.simulator.media import MediaCache
from videostudio.simulator.routing import Router
from videostudio.simulator.stats import Stats
from videostudio.simulator.throttle import TokenBucket
from videostudio.simulator.web import (
    ApiError,
    Request,
    Response,
    cut_short,
    error_response,
    json_response,
)

log = logging.getLogger(__name__)

StartResponse = Callable[..., Any]

_DIALECTS = ("poe", "openai")
CHARGE_AT_CHOICES: tuple[str, ...] = ("send", "completion")
DEFAULT_STARTING_BALANCE = 100_000_000
STATS_PATH = "/_simulator/stats"
JOBS_PATH = "/_simulator/jobs"
# Answers a malformed-body fault may cut short: the JSON ones.
_JSON_KINDS = frozenset({"create", "remix", "extend", "retrieve", "list", "models", "usage"})


class Simulator:
    """A fake Videos API provider, callable as a WSGI application."""

    def __init__(
        self,
        *,
        clock: Callable[[], float] = time.time,
        queue_seconds: float = 2.0,
        render_seconds: float = 20.0,
        expire_seconds: float = 3600.0,
        api_key: str | None = None,
        dialect: str = "poe",
        cache_dir: Path | None = None,
        fps: int = 12,
        starting_balance: int = DEFAULT_STARTING_BALANCE,
        ledger_path: Path | None = None,
        models: Iterable[str] | None = None,
        models_endpoint: bool = True,
        charge_at: str = "send",
        slow_seconds: float = 5.0,
        rate_per_minute: int | None = None,
        burst: int | None = None,
        stock_media: bool = False,
        list_endpoint: bool = False,
        chaos: Chaos | None = None,
    ) -> None:
        if dialect not in _DIALECTS:
            raise ValueError(f"dialect must be one of {_DIALECTS}, not {dialect!r}")
        if fps < 1:
            raise ValueError("fps must be at least 1")
        if burst is not None and rate_per_minute is None:
            raise ValueError("burst needs rate_per_minute: without a rate there is no limit")
        self.clock = clock
        self.queue_seconds = queue_seconds
        self.render_seconds = render_seconds
        self.expire_seconds = expire_seconds
        self.api_key = api_key
        self.dialect = dialect
        self.fps = fps
        self.models = catalog.DEFAULT_MODELS if models is None else models
        self.charge_at = charge_at
        self.models_endpoint = models_endpoint
        self.slow_seconds = slow_seconds
        self.stock_media = stock_media
        self.list_endpoint = list_endpoint
        self.media = MediaCache(Path(cache_dir) if cache_dir is not None else None)
        self.ledger = Ledger(balance=starting_balance, clock=clock, path=ledger_path)
        self.rate_limit: TokenBucket | None = None
        if rate_per_minute is not None:
            self.rate_limit = TokenBucket(rate_per_minute=rate_per_minute, burst=burst, clock=clock)
        self._faults = Faults(chaos)
        # What each job made here was charged, by the ledger's entry (for JOBS_PATH).
        self._charges: dict[str, str] = {}
        self._stats = Stats()
        self._listed = listing.JobList()
        self._router = Router(
            [
                (r"^/v1/videos$", {"GET": ("list", self._list), "POST": ("create", self._create)}),
                (r"^/v1/videos/extensions$", {"POST": ("extend", self._extend)}),
                (r"^/v1/videos/(?P<id>[^/]+)$", {"GET": ("retrieve", self._retrieve)}),
                (r"^/v1/videos/(?P<id>[^/]+)/content$", {"GET": ("content", self._content)}),
                (r"^/v1/videos/(?P<id>[^/]+)/remix$", {"POST": ("remix", self._remix)}),
                (r"^/v1/models$", {"GET": ("models", self._models)}),
                (r"^(/v1)?/usage/current_balance$", {"GET": ("usage", self._balance)}),
                (r"^(/v1)?/usage/points_history$", {"GET": ("usage", self._history)}),
            ],
            serves=self._serves,
        )

    # ----- public helpers -------------------------------------------------------
    @property
    def models(self) -> tuple[str, ...]:
        """The names of the video models offered, in catalog order."""
        return tuple(m.name for m in catalog.VIDEO_MODELS if m in self._offered)

    @models.setter
    def models(self, names: Iterable[str]) -> None:
        # One assignment of an immutable set: request threads see the old or the new offer.
        self._offered = catalog.resolve_models(names)

    @property
    def charge_at(self) -> str:
        """When a charge is stamped in the history: "send" or "completion"."""
        return self._charge_at

    @charge_at.setter
    def charge_at(self, value: str) -> None:
        if value not in CHARGE_AT_CHOICES:
            raise ValueError(f"charge_at must be one of {CHARGE_AT_CHOICES}, not {value!r}")
        self._charge_at = value

    def transport(self) -> httpx.WSGITransport:
        """An httpx transport that calls this app in-process (no sockets)."""
        return httpx.WSGITransport(app=self)

    def inject_error(
        self,
        status: int,
        *,
        count: int = 1,
        path_contains: str = "",
        retry_after: str | None = None,
    ) -> None:
        """Answer the next `count` requests whose path contains `path_contains` with `status`.

        The error comes before authentication and the rate limit: it spends no token.
        """
        self._faults.add_error(
            status, count=count, path_contains=path_contains, retry_after=retry_after
        )

    def inject_cut(self, *, count: int = 1, after_bytes: int) -> None:
        """Cut the next `count` content responses (200 or 206) after `after_bytes` bytes.

        Each declares its whole Content-Length and stops short (see `web.cut_short`);
        one whose body is no longer than `after_bytes` goes out whole, and still counts.
        """
        self._faults.add_cut(count=count, after_bytes=after_bytes)

    def stats(self, *, reset: bool = False) -> dict[str, int]:
        """Requests by kind (`stats.KINDS`), `throttled`, `injected`, `cut` and `total`.

        With `reset`, the counters are zeroed in the same step (the answer holds what
        they were), so a benchmark can read one phase at a time.
        """
        return self._stats.snapshot(reset=reset)

    # ----- WSGI -----------------------------------------------------------------
    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        try:
            request = Request.from_environ(environ)
            if request.path == STATS_PATH:
                response = self._stats_endpoint(request)
            elif request.path == JOBS_PATH:
                response = self._jobs_endpoint(request)
            else:
                response = self._dispatch(request)
        except ApiError as error:
            response = error_response(error)
        except Exception:  # never a traceback page: clients must see the envelope
            log.exception("simulator: unexpected error")
            response = error_response(ApiError(500, "Internal error in the simulator"))
        start_response(response.status_line, response.headers)
        return response.body

    def _dispatch(self, request: Request) -> Response:
        kind, handler, params = self._router.resolve(request)
        self._stats.request(kind)
        injected = self._faults.error_for(request.path)
        if injected is not None:
            self._stats.outcome("injected")
            raise injected
        self._authenticate(request)
        burst = self._faults.burst_wait(self.clock())
        if burst is not None:
            self._stats.outcome("burst")
            raise ApiError(429, "Rate limit exceeded (a burst of traffic)", retry_after=str(burst))
        self._throttle()
        if self._faults.roll("error_rate"):
            self._stats.outcome("injected")
            raise ApiError(500, "Simulated provider error (random fault)")
        response = handler(request, params)
        if self._faults.roll("slow_rate"):
            # Done (a create is made and charged), but the answer comes late.
            self._stats.outcome("slowed")
            time.sleep(self._faults.chaos.slow_seconds)
        if response.status == 200 and kind in _JSON_KINDS and self._faults.roll("malformed_rate"):
            self._stats.outcome("malformed")
            response = _malformed(response)
        return response

    def _serves(self, kind: str) -> bool:
        # Providers differ in what they offer: a switched-off endpoint answers 404.
        if kind == "list":
            return self.list_endpoint
        return kind != "models" or self.models_endpoint

    def _throttle(self) -> None:
        if self.rate_limit is None:
            return
        wait = self.rate_limit.take()
        if wait is not None:
            self._stats.outcome("throttled")
            raise ApiError(
                429,
                f"Rate limit exceeded: {self.rate_limit.rate_per_minute} requests per minute",
                retry_after=str(wait),
            )

    def _stats_endpoint(self, request: Request) -> Response:
        if request.method != "GET":
            raise ApiError(
                405, f"Method {request.method} is not allowed", headers=[("Allow", "GET")]
            )
        reset = request.query.get("reset", "").lower() in ("1", "true", "yes")
        return json_response(200, self.stats(reset=reset))

    def _jobs_endpoint(self, request: Request) -> Response:
        """Every job made here (newest `listing.MAX_LISTED`), as the provider knows it:
        its status now, what it was charged and the history entry that charged it;
        with `?hashes=1`, the sha256 of each file a completed job serves. A test tool
        beside the API, like the stats: no key, no faults, not counted."""
        if request.method != "GET":
            raise ApiError(
                405, f"Method {request.method} is not allowed", headers=[("Allow", "GET")]
            )
        hashes = request.query.get("hashes", "").lower() in ("1", "true", "yes")
        now = self.clock()
        made = []
        for job in self._listed.everything():
            snap = job.state(now)
            record: dict[str, Any] = {
                "id": job.id,
                "kind": job.kind,
                "model": job.model.name,
                "size": job.size,
                "seconds": job.seconds,
                "status": snap.status,
                "created": job.created,
                "finished": job.finished,
                "fails": job.fail,
                "charged_points": job.charged_points,
                "charge": self._charges.get(job.id),
            }
            if hashes and snap.status == jobs.COMPLETED and not snap.expired(now):
                record["sha256"] = {
                    variant: self.media.sha256(
                        content.media_file(
                            job, variant, media=self.media, fps=self.fps, stock=self.stock_media
                        )[0]
                    )
                    for variant in ("video", "thumbnail", "spritesheet")
                }
            made.append(record)
        return json_response(200, {"jobs": made, "balance": self.ledger.balance})

    def _authenticate(self, request: Request) -> None:
        header = request.header("Authorization") or ""
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise ApiError(401, "Missing API key: send Authorization: Bearer <key>")
        if self.api_key is not None and token.strip() != self.api_key:
            raise ApiError(401, "Invalid API key")

    # ----- videos ---------------------------------------------------------------
    def _create(self, request: Request, params: dict[str, str]) -> Response:
        fields, files = request.fields()
        prompt = validation.prompt(fields)
        name = fields.get("model")
        if not isinstance(name, str) or not name.strip():
            raise ApiError(400, "model is required")
        model = catalog.find_model(name)
        if model is None or model not in self._offered:
            raise _model_not_available(name.strip())
        seconds = validation.seconds(fields.get("seconds"), model)
        size = validation.size(fields.get("size"), model)
        # The documented upload is `input_reference`; take a file named like the JSON field too.
        image = files.get("input_reference") or files.get("input_image")
        if image is None and fields.get("input_image"):
            image = validation.base64_image(fields["input_image"])
        tint = validation.image_tint(image) if image is not None else None
        job = self._new_job(prompt, model=model, size=size, seconds=seconds, tint=tint)
        return self._charge_and_answer(job, prompt)

    def _retrieve(self, request: Request, params: dict[str, str]) -> Response:
        job = self._job(params["id"])
        return json_response(200, jobs.video_object(job, self.clock(), self.dialect))

    def _content(self, request: Request, params: dict[str, str]) -> Response:
        response = content.content_response(
            self._job(params["id"]),
            variant=request.query.get("variant") or "video",
            now=self.clock(),
            media=self.media,
            fps=self.fps,
            stock=self.stock_media,
            range_header=request.header("Range"),
        )
        cut = self._faults.cut()
        if cut is None and self._faults.roll("cut_rate"):
            length = dict(response.headers).get("Content-Length", "0")
            # Halfway, but at least a byte: a client that resumes always gets further.
            cut = max(1, int(length) // 2)
        if cut is None:
            return response
        self._stats.outcome("cut")
        return cut_short(response, after_bytes=cut)

    def _remix(self, request: Request, params: dict[str, str]) -> Response:
        source = self._job(params["id"])
        self._require_offered(source.model)
        fields, _ = request.fields()
        prompt = validation.prompt(fields)
        if not source.model.remix:
            raise ApiError(400, f"{source.model.name} does not support remix")
        if source.state(self.clock()).status == jobs.FAILED:
            raise ApiError(400, "Cannot remix a video that failed")
        template = self._new_job(prompt, model=source.model, size=source.size, seconds=0)
        return self._charge_and_answer(jobs.remix_of(source, template), prompt)

    def _extend(self, request: Request, params: dict[str, str]) -> Response:
        fields, _ = request.fields()
        ref = fields.get("video")
        source_id = ref.get("id") if isinstance(ref, dict) else ref
        if not isinstance(source_id, str) or not source_id:
            raise ApiError(400, 'video is required: {"video": {"id": "video_..."}}')
        source = self._job(source_id)
        self._require_offered(source.model)
        prompt = validation.prompt(fields)
        if not source.model.extend:
            raise ApiError(400, f"{source.model.name} does not support extensions")
        status = source.state(self.clock()).status
        if status != jobs.COMPLETED:
            raise ApiError(400, f"The source video must be completed (status: {status})")
        extra = validation.seconds(fields.get("seconds"), source.model)
        total = source.seconds + extra
        if total > catalog.MAX_LINEAGE_SECONDS:
            raise ApiError(
                400,
                f"An extended video may total at most {catalog.MAX_LINEAGE_SECONDS} seconds "
                f"({source.seconds} + {extra} = {total})",
            )
        template = self._new_job(prompt, model=source.model, size=source.size, seconds=0)
        return self._charge_and_answer(jobs.extension_of(source, template, extra), prompt)

    def _new_job(
        self,
        prompt: str,
        *,
        model: catalog.SimModel,
        size: str,
        seconds: int,
        tint: int | None = None,
    ) -> jobs.Job:
        render = validation.render_seconds(prompt)
        return jobs.new_job(
            now=self.clock(),
            queue_seconds=self.queue_seconds,
            render_seconds=self.render_seconds if render is None else render,
            expire_seconds=self.expire_seconds,
            model=model,
            size=size,
            seconds=seconds,
            prompt=prompt,
            fail=validation.FAIL_MARKER in prompt.lower() or self._faults.roll("fail_rate"),
            tint=tint,
        )

    def _charge_and_answer(self, job: jobs.Job, prompt: str) -> Response:
        if job.fail:
            # Refused like any job (the provider cannot know yet), but never charged.
            accepted = self.ledger.can_pay(job.cost_points)
        else:
            stamp_us = job.finished_ms * 1000 if self.charge_at == "completion" else None
            entry = self.ledger.charge(job.model.name, job.cost_points, stamp_us=stamp_us)
            accepted = entry is not None
            if entry is not None:
                self._charges[job.id] = entry
        if not accepted:
            raise ApiError(402, "Insufficient points: your point balance is too low")
        self._listed.add(job)  # made: listed even if a [slow] answer never arrives
        if validation.SLOW_MARKER in prompt.lower():
            # Made and charged, but the answer comes too late for a client's timeout.
            time.sleep(self.slow_seconds)
        return json_response(200, jobs.video_object(job, self.clock(), self.dialect))

    def _require_offered(self, model: catalog.SimModel) -> None:
        # A remix or extension renders with its source's model: gone means gone.
        if model not in self._offered:
            raise _model_not_available(model.name)

    def _job(self, video_id: str) -> jobs.Job:
        job = jobs.decode_id(video_id)
        if job is None:
            raise ApiError(404, f"No video found with id {video_id!r}")
        return job

    # ----- catalog and usage ----------------------------------------------------
    def _list(self, request: Request, params: dict[str, str]) -> Response:
        page = listing.page_payload(
            self._listed, request.query, now=self.clock(), dialect=self.dialect
        )
        return json_response(200, page)

    def _models(self, request: Request, params: dict[str, str]) -> Response:
        return json_response(200, catalog.models_payload(self._offered))

    def _balance(self, request: Request, params: dict[str, str]) -> Response:
        return json_response(200, {"current_point_balance": self.ledger.balance})

    def _history(self, request: Request, params: dict[str, str]) -> Response:
        raw_limit = request.query.get("limit") or "20"
        if not raw_limit.isdigit() or not 1 <= int(raw_limit) <= 100:
            raise ApiError(400, "limit must be an integer from 1 to 100")
        cursor = request.query.get("starting_after") or None
        try:
            page = self.ledger.history(limit=int(raw_limit), starting_after=cursor)
        except UnknownCursor:
            raise ApiError(400, f"Unknown starting_after cursor {cursor!r}") from None
        return json_response(200, page)


def _model_not_available(name: str) -> ApiError:
    # Poe's answer for a bot it does not serve; unknown and withdrawn look alike.
    return ApiError(
        404,
        f"Model {name!r} does not exist or is not available",
        metadata={"param": "model"},
    )


def _malformed(response: Response) -> Response:
    """The same answer with its JSON body cut off halfway (a broken proxy, a bug)."""
    body = b"".join(response.body)
    cut = body[: max(1, len(body) // 2)]
    headers = [(k, str(len(cut)) if k == "Content-Length" else v) for k, v in response.headers]
    return Response(response.status, headers, [cut])
