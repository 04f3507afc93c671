"""Server-sent events of the job list (``GET /api/jobs/events``).

One :class:`JobFeed` per process takes a snapshot of the job list at most once per :data:`POLL_SECONDS`,
however many streams are open, on a worker thread (the job service answers on the host thread). Each stream
sends the snapshot when it differs from what that stream sent last, a comment line when it has been quiet for
:data:`KEEPALIVE_SECONDS`, and ends after its time (at most :data:`STREAM_SECONDS`; ``EventSource`` and the
page reconnect), so that a stream never holds a server shutdown for long.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Callable
from typing import TYPE_CHECKING, Any

from fastapi.encoders import jsonable_encoder
from starlette.concurrency import run_in_threadpool

if TYPE_CHECKING:
    from viq_host.api.runtime import Runtime

POLL_SECONDS = 1.0
KEEPALIVE_SECONDS = 15.0
STREAM_SECONDS = 300.0
RETRY_MS = 3000


class JobFeed:
    """Shared, rate-limited snapshots of the job list (JSON text per ``limit``)."""

    def __init__(self, fetch: Callable[[int], list[dict[str, Any]]], poll_seconds: float = POLL_SECONDS) -> None:
        self._fetch = fetch
        self._poll = poll_seconds
        self._lock: asyncio.Lock | None = None
        self._cache: dict[int, tuple[float, str]] = {}
        self.fetches = 0

    async def snapshot(self, limit: int) -> str:
        """The job list as JSON, at most :data:`POLL_SECONDS` old."""
        if self._lock is None:
            self._lock = asyncio.Lock()
        async with self._lock:
            hit = self._cache.get(limit)
            now = time.monotonic()
            if hit is not None and now - hit[0] < self._poll:
                return hit[1]
            rows = await run_in_threadpool(self._fetch, limit)
            self.fetches += 1
            text = json.dumps(jsonable_encoder(rows), separators=(",", ":"), ensure_ascii=False)
            self._cache[limit] = (time.monotonic(), text)
            return text


def job_feed(rt: Runtime) -> JobFeed:
    """The process's feed of ``rt`` (created on first use)."""
    if rt.job_feed is None:
        from viq_host.api.routes.jobs import job_rows

        rt.job_feed = JobFeed(lambda limit: rt.host_thread.call(lambda service: job_rows(service, None, limit)))
    return rt.job_feed


async def event_stream(
    feed: JobFeed, limit: int, seconds: float, *, poll_seconds: float = POLL_SECONDS
) -> AsyncIterator[str]:
    """The ``text/event-stream`` body: ``retry``, then ``event: jobs`` on every change, keep-alive comments."""
    yield f"retry: {RETRY_MS}\n\n"
    start = quiet_since = time.monotonic()
    last: str | None = None
    while True:
        text = await feed.snapshot(limit)
        now = time.monotonic()
        if text != last:
            yield f"event: jobs\ndata: {text}\n\n"
            last, quiet_since = text, now
        elif now - quiet_since >= KEEPALIVE_SECONDS:
            yield ": keep-alive\n\n"
            quiet_since = now
        if now - start >= seconds:
            return
        await asyncio.sleep(min(poll_seconds, max(0.0, seconds - (now - start))))
