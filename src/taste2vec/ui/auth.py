"""Sessions, roles and CSRF for the web UI (the JSON API keeps its bearer keys).

* The session cookie (:data:`SESSION_COOKIE`) holds a random token; the store keeps its
  hash. It is HttpOnly, SameSite=Lax, and Secure unless the request's host is loopback
  (plain http on 127.0.0.1 during development).
* Every state-changing request carries the session's CSRF token (form field
  ``csrf_token`` or header ``X-CSRF-Token``) and, when the browser sends ``Origin``, comes
  from this host. The sign-in form, before any session, uses a double-submit cookie.
* A taster may open only their own pages (``/u/<their id>/...``); the console needs the
  admin role. Admins may open any taster's pages.
"""

from __future__ import annotations

import secrets
from typing import Annotated
from urllib.parse import quote, urlsplit

from fastapi import Depends, Request, Response

from taste2vec.service.accounts import SESSION_TTL, Accounts
from taste2vec.store import UiSession

SESSION_COOKIE = "t2v_session"
LOGIN_CSRF_COOKIE = "t2v_login_csrf"
LANG_COOKIE = "t2v_lang"
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "x-csrf-token"
LOOPBACK = frozenset({"127.0.0.1", "localhost", "::1", "[::1]"})


class SignInRequired(Exception):
    """No valid session: the handler redirects to the sign-in page."""

    def __init__(self, next_path: str) -> None:
        super().__init__(next_path)
        self.next_path = next_path


class Forbidden(Exception):
    """Signed in, but not allowed (another user's page, console without admin, CSRF)."""

    def __init__(self, message_key: str) -> None:
        super().__init__(message_key)
        self.message_key = message_key


def accounts(request: Request) -> Accounts:
    return Accounts(request.app.state.service.store)


def is_loopback(request: Request) -> bool:
    host = request.url.hostname or ""
    return host in LOOPBACK or host.endswith(".localhost")


def set_cookie(request: Request, response: Response, name: str, value: str, max_age: int) -> None:
    response.set_cookie(
        name,
        value,
        max_age=max_age,
        path="/",
        httponly=True,
        samesite="lax",
        secure=not is_loopback(request),
    )


def start_session(request: Request, response: Response, token: str) -> None:
    set_cookie(request, response, SESSION_COOKIE, token, int(SESSION_TTL.total_seconds()))


def end_session(request: Request, response: Response) -> None:
    token = request.cookies.get(SESSION_COOKIE)
    if token:
        accounts(request).sign_out(token)
    response.delete_cookie(SESSION_COOKIE, path="/")


def current_session(request: Request) -> UiSession | None:
    token = request.cookies.get(SESSION_COOKIE)
    return accounts(request).session(token) if token else None


def require_session(request: Request) -> UiSession:
    session = current_session(request)
    if session is None:
        raise SignInRequired(request.url.path)
    return session


SessionDep = Annotated[UiSession, Depends(require_session)]


def check_owner(session: UiSession, user_id: str) -> None:
    """A taster reaches only their own pages; admins reach everyone's."""
    if session.role != "admin" and session.user_id != user_id:
        raise Forbidden("err.forbidden")


def require_admin(session: SessionDep) -> UiSession:
    if session.role != "admin":
        raise Forbidden("err.admin")
    return session


AdminSessionDep = Annotated[UiSession, Depends(require_admin)]


def same_origin(request: Request) -> bool:
    """False when the browser says the request comes from another origin."""
    origin = request.headers.get("origin")
    if origin is None or origin == "null":
        return origin is None  # an opaque ("null") origin is never ours
    parts = urlsplit(origin)
    return parts.netloc == request.headers.get("host", "")


async def check_csrf(request: Request, expected: str) -> None:
    """The request's CSRF token (form field or header) must equal ``expected``."""
    given = request.headers.get(CSRF_HEADER)
    if given is None:
        form = await request.form()
        value = form.get(CSRF_FIELD)
        given = value if isinstance(value, str) else None
    if not same_origin(request) or not given or not secrets.compare_digest(given, expected):
        raise Forbidden("err.csrf")


async def csrf_session(request: Request, session: SessionDep) -> UiSession:
    """The session, for a state-changing request whose CSRF token checks out."""
    await check_csrf(request, session.csrf_token)
    return session


CsrfSessionDep = Annotated[UiSession, Depends(csrf_session)]


def login_csrf(request: Request) -> str:
    """The pre-session CSRF token of the sign-in form (double-submit cookie)."""
    return request.cookies.get(LOGIN_CSRF_COOKIE) or secrets.token_urlsafe(32)


def safe_next(path: str | None, default: str = "/") -> str:
    """A local path to go to after signing in (never another site)."""
    if not path or not path.startswith("/") or path.startswith("//") or "\\" in path:
        return default
    return path


def login_url(next_path: str) -> str:
    return "/login?next=" + quote(safe_next(next_path), safe="/")
