"""The health endpoint: ``GET /healthz`` says whether this instance can do its job.

A few dozen lines on asyncio streams rather than a web framework: the endpoint is polled by a
container runtime or a load balancer, answers one small JSON document and closes. It runs
beside the bot in both modes on ``[health] listen:port`` (in webhook mode too, on its own port,
because PTB's webhook server serves exactly one path).

Healthy (ready, ``/healthz`` or ``/readyz``) means: the database answers, it is at this
code's migration head, writes to it succeed (fewer than three failed in a row: a full disk
answers reads and refuses writes), updates do not wait in the inbox unhandled, and the due scan
finished within the last three scan intervals (or the instance has not been up that long).
``/livez`` only says the process answers.
Time comes from the injected clock, so tests move it instead of sleeping.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Awaitable
from dataclasses import field
from datetime import datetime
from typing import TYPE_CHECKING, Any, TypeVar

from bot import texts
from bot.frozen import frozen
from bot.services import inbox
from storage.db import SchemaState, SchemaStatus, head_revision, schema_status

if TYPE_CHECKING:
    from bot.context import Deps

log = logging.getLogger(__name__)

T = TypeVar("T")

HEALTH_PATH = "/healthz"
# Readiness under the name orchestrators expect; the same answer as /healthz.
READY_PATH = "/readyz"
# Liveness: the process and its event loop answer; nothing outside it is looked at, so an
# orchestrator restarts the bot only when restarting can help (not for a database outage).
LIVE_PATH = "/livez"
# Writes that fail in a row (each a different transaction) before the instance is unready.
FAILED_WRITES_LIMIT = 3
# A scan may miss this many intervals before the instance is reported unhealthy.
LAG_INTERVALS = 3
DATABASE_TIMEOUT_SECONDS = 5.0
REQUEST_TIMEOUT_SECONDS = 5.0
MAX_REQUEST_HEAD_BYTES = 8192


@frozen
class HealthReport:
    """One answer of ``/healthz``; ``problems`` says in words why it is unhealthy."""

    database: str
    revision: str | None
    head: str
    last_scan_at: datetime | None
    scan_lag_seconds: float | None
    instance: str
    problems: tuple[str, ...] = field(default=())
    failed_writes: int = 0
    inbox_pending: int | None = None

    @property
    def healthy(self) -> bool:
        return not self.problems

    def as_json(self) -> dict[str, Any]:
        return {
            "status": "ok" if self.healthy else "unhealthy",
            "database": self.database,
            "revision": self.revision,
            "head": self.head,
            "last_scan_at": self.last_scan_at.isoformat() if self.last_scan_at else None,
            "scan_lag_seconds": (
                round(self.scan_lag_seconds, 3) if self.scan_lag_seconds is not None else None
            ),
            "failed_writes_in_a_row": self.failed_writes,
            "inbox_pending": self.inbox_pending,
            "instance": self.instance,
            "problems": list(self.problems),
        }


async def check_health(
    deps: Deps,
    up_since: datetime,
    head: str | None = None,
    probe: Awaitable[SchemaStatus] | None = None,
) -> HealthReport:
    """Look at the database and the scan monitor and say whether this instance is healthy."""
    head = head or head_revision()
    problems: list[str] = []
    revision: str | None = None
    if probe is None:
        probe = asyncio.to_thread(schema_status, deps.database.engine)
    try:
        status = await asyncio.wait_for(probe, DATABASE_TIMEOUT_SECONDS)
    except TimeoutError:
        database = texts.health_database_timeout(DATABASE_TIMEOUT_SECONDS)
        problems.append(database)
    except Exception as error:  # any failure to reach the database is the answer itself
        database = texts.health_database_unreachable(error)
        problems.append(database)
    else:
        database = "ok"
        revision = status.current
        if status.state is not SchemaState.CURRENT:
            problems.append(texts.health_revision_not_head(revision, status.head))

    now = deps.clock.now()
    limit = LAG_INTERVALS * deps.settings.scheduler.scan_interval_seconds
    finished = deps.scans.last_finished
    lag = (now - finished).total_seconds() if finished is not None else None
    started = deps.scans.last_started
    if deps.scans.running and started is not None:
        # A large fan-out legitimately takes longer than a few intervals: it renews its claims
        # every quarter of a lease while it sends. A round is stuck once a whole lease passed
        # since it started or last renewed, after which others take its rows over.
        limit = max(limit, float(deps.settings.scheduler.claim_lease_seconds))
        alive = max(started, deps.scans.last_renewed or started)
        lag = (now - alive).total_seconds()
    if lag is not None and lag > limit:
        problems.append(texts.health_scan_lagging(lag, limit))
    elif lag is None and (now - up_since).total_seconds() > limit:
        problems.append(texts.health_scan_never_ran(limit))
    writes = deps.database.writes
    if writes.consecutive_failures >= FAILED_WRITES_LIMIT:
        problems.append(
            texts.health_writes_failing(writes.consecutive_failures, writes.last_failure or "")
        )
    pending = None
    if database == "ok":
        try:
            backlog = await asyncio.wait_for(
                asyncio.to_thread(inbox.backlog, deps.database), DATABASE_TIMEOUT_SECONDS
            )
        except Exception:
            backlog = None
        if backlog is not None:
            pending = backlog.pending
            stuck_after = max(60.0, 2 * deps.settings.inbox.claim_lease_seconds)
            if backlog.oldest_received_at is not None:
                waiting = (now - backlog.oldest_received_at).total_seconds()
                if waiting > stuck_after:
                    problems.append(texts.health_inbox_stuck(backlog.pending, waiting))
    return HealthReport(
        database=database,
        revision=revision,
        head=head,
        last_scan_at=finished,
        scan_lag_seconds=lag,
        instance=deps.instance_id,
        problems=tuple(problems),
        failed_writes=writes.consecutive_failures,
        inbox_pending=pending,
    )


class HealthServer:
    """A tiny HTTP/1.1 server answering ``GET /healthz``; one request per connection."""

    def __init__(self, deps: Deps, listen: str, port: int) -> None:
        self.deps = deps
        self.listen = listen
        self.requested_port = port
        self.up_since = deps.clock.now()
        self._head = head_revision()
        self._server: asyncio.Server | None = None
        self._probe: asyncio.Future[SchemaStatus] | None = None

    @property
    def port(self) -> int:
        """The bound port (differs from the requested one when that was 0)."""
        assert self._server is not None, "the health server is not running"
        port: int = self._server.sockets[0].getsockname()[1]
        return port

    async def start(self) -> None:
        self.up_since = self.deps.clock.now()
        self._server = await asyncio.start_server(
            self._serve, self.listen, self.requested_port, reuse_address=True
        )
        log.info(
            "Health endpoint listening on http://%s:%s%s",
            self.listen,
            self.port,
            HEALTH_PATH,
            extra={"listen": self.listen, "port": self.port},
        )

    async def close(self) -> None:
        if self._server is None:
            return
        server, self._server = self._server, None
        server.close()
        if self._probe is not None and not self._probe.done():
            self._probe.cancel()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(server.wait_closed(), REQUEST_TIMEOUT_SECONDS)
        log.info("Health endpoint closed")

    async def report(self) -> HealthReport:
        # One database probe at a time: while the database hangs, polls must not pile up
        # threads in the executor the bot's own use cases run in.
        if self._probe is None or self._probe.done():
            self._probe = asyncio.ensure_future(
                asyncio.to_thread(schema_status, self.deps.database.engine)
            )
            # A probe that fails after its caller gave up must not warn "never retrieved".
            self._probe.add_done_callback(lambda f: f.cancelled() or f.exception())
        return await check_health(
            self.deps, self.up_since, self._head, asyncio.shield(self._probe)
        )

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = b""
        try:
            head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), REQUEST_TIMEOUT_SECONDS)
            status, body = await self._answer(head)
        except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, TimeoutError):
            status, body = 400, {"error": "bad request"}
        except ConnectionError:
            writer.close()
            return
        payload = json.dumps(body).encode()
        lines = (
            f"HTTP/1.1 {status} {_REASONS[status]}\r\n"
            "Content-Type: application/json\r\n"
            f"Content-Length: {len(payload)}\r\n"
            "Cache-Control: no-store\r\n"
            "Connection: close\r\n\r\n"
        )
        writer.write(lines.encode() + (b"" if head.startswith(b"HEAD ") else payload))
        with contextlib.suppress(ConnectionError):
            await writer.drain()
        writer.close()
        with contextlib.suppress(ConnectionError):
            await writer.wait_closed()

    async def _answer(self, head: bytes) -> tuple[int, dict[str, Any]]:
        if len(head) > MAX_REQUEST_HEAD_BYTES:
            return 400, {"error": "bad request"}
        request_line = head.split(b"\r\n", 1)[0].decode("latin-1")
        parts = request_line.split()
        if len(parts) != 3:
            return 400, {"error": "bad request"}
        method, target, _version = parts
        path = target.split("?", 1)[0]
        if path not in (HEALTH_PATH, READY_PATH, LIVE_PATH):
            return 404, {"error": f"not found; the health endpoint is {HEALTH_PATH}"}
        if method not in ("GET", "HEAD"):
            return 405, {"error": "only GET and HEAD"}
        if path == LIVE_PATH:
            return 200, {"status": "alive", "instance": self.deps.instance_id}
        report = await self.report()
        log.debug("Health checked", extra={"healthy": report.healthy})
        return (200 if report.healthy else 503), report.as_json()


_REASONS = {
    200: "OK",
    400: "Bad Request",
    404: "Not Found",
    405: "Method Not Allowed",
    503: "Service Unavailable",
}
