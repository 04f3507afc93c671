"""Access control of the API: bearer tokens, roles, CSRF tokens for writes, the audit of every write.

* Every ``/api`` route except ``/api/health`` needs ``Authorization: Bearer viq_…`` (401 otherwise). There
  are no cookies: a browser never sends the token on its own, so a cross-site form cannot act as a user.
* Reads need ``viewer``; writes need ``operator`` (403 for a viewer); token listing needs ``admin``.
* Writes (POST/PUT/PATCH/DELETE) additionally need ``X-CSRF-Token``: an HMAC of the token's key under a
  secret of the installation, given by ``GET /api/session``. A request carrying an ``Origin`` header from
  another site is refused as well. Both checks are belt and braces on top of header-only authentication.
* :class:`Caller.audit` appends one row per write (success, refusal or error) to ``api_audit``.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import urlsplit

from fastapi import Depends, HTTPException, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from starlette.concurrency import run_in_threadpool

from viq_host.api.runtime import Runtime
from viq_host.api.store import Role, TokenRecord

WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
CSRF_HEADER = "X-CSRF-Token"

bearer = HTTPBearer(auto_error=False, description="API token (`viq serve token create NAME --role R`).")


def runtime(request: Request) -> Runtime:
    """The process's runtime (set by the app's lifespan)."""
    rt: Runtime = request.app.state.runtime
    return rt


def installation_secret(home: Path) -> bytes:
    """A random secret of the installation (``HOME/api-secret``, created 0600 on first use)."""
    path = home / "api-secret"
    try:
        return bytes.fromhex(path.read_text(encoding="ascii").strip())
    except (FileNotFoundError, ValueError):
        pass
    value = secrets.token_bytes(32)
    tmp = path.with_name(f".api-secret.{secrets.token_hex(4)}")
    tmp.touch(mode=0o600)
    tmp.write_text(value.hex(), encoding="ascii")
    try:
        path.hardlink_to(tmp)  # first writer wins; later ones read the winner
    except FileExistsError:
        pass
    finally:
        tmp.unlink()
    return bytes.fromhex(path.read_text(encoding="ascii").strip())


def csrf_token(secret: bytes, token: TokenRecord) -> str:
    """The CSRF token of an API token (stable for the token's life)."""
    return hmac.new(secret, f"csrf:{token.key}".encode(), hashlib.sha256).hexdigest()


@dataclass(frozen=True)
class Caller:
    """The authenticated caller of one request."""

    token: TokenRecord
    runtime: Runtime
    client: str

    @property
    def actor(self) -> str:
        """Name used in audit trails (``api:<token name>``)."""
        return f"api:{self.token.name}"

    def audit(self, action: str, target: str, outcome: str = "ok", **detail: Any) -> None:
        """Record one write (or a refused one)."""
        self.runtime.store.audit(self.actor, self.token.role.label, action, target, outcome, detail, self.client)


def _same_origin(request: Request) -> bool:
    origin = request.headers.get("origin")
    if origin is None:
        return True  # not a browser, or a same-origin GET-like navigation
    if origin == "null":
        return False
    return urlsplit(origin).netloc.lower() == request.headers.get("host", "").lower()


async def _authenticate(request: Request, creds: HTTPAuthorizationCredentials | None) -> Caller:
    rt = runtime(request)
    if creds is None or creds.scheme.lower() != "bearer":
        raise HTTPException(401, "missing API token (Authorization: Bearer …)", {"WWW-Authenticate": "Bearer"})
    # A token verified in the last few seconds is answered from memory on the event loop; only a cache miss
    # (a database read and a hash) goes to a worker thread.
    token = rt.store.cached(creds.credentials)
    if token is None:
        token = await run_in_threadpool(rt.store.verify, creds.credentials)
    if token is None:
        raise HTTPException(401, "invalid or revoked API token", {"WWW-Authenticate": "Bearer"})
    client = request.client.host if request.client else ""
    return Caller(token, rt, client)


def require(role: Role) -> Any:
    """A dependency: the caller, holding at least ``role``; writes also pass the CSRF and origin checks.

    It is a coroutine so that FastAPI runs it on the event loop (a plain function costs a thread hand-off per
    request); audit rows of refused writes are written from a worker thread.
    """

    async def dependency(
        request: Request, creds: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)]
    ) -> Caller:
        caller = await _authenticate(request, creds)
        write = request.method in WRITE_METHODS
        action = f"{request.method} {request.url.path}"

        async def refuse(status: int, message: str, reason: str) -> HTTPException:
            if write:
                await run_in_threadpool(caller.audit, action, request.url.path, "refused", reason=reason)
            return HTTPException(status, message)

        if caller.token.role < role:
            raise await refuse(403, f"role {caller.token.role.label} may not do this (needs {role.label})",
                               f"needs role {role.label}")
        if write:
            expected = csrf_token(request.app.state.secret, caller.token)
            given = request.headers.get(CSRF_HEADER, "")
            if not hmac.compare_digest(given.encode(), expected.encode()):
                raise await refuse(403, f"missing or wrong {CSRF_HEADER} header (get it from GET /api/session)",
                                   "missing or wrong CSRF token")
            if not _same_origin(request):
                raise await refuse(403, "cross-origin write refused", "cross-origin request")
        return caller

    return dependency


Viewer = Annotated[Caller, Depends(require(Role.VIEWER))]
Operator = Annotated[Caller, Depends(require(Role.OPERATOR))]
Admin = Annotated[Caller, Depends(require(Role.ADMIN))]
