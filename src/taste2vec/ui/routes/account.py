"""Sign in, sign out, the language switch and the front door ``/``."""

from __future__ import annotations

import secrets

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from taste2vec.service.accounts import MAX_PASSWORD_CHARS, SignInFailed, SignInThrottled
from taste2vec.ui.auth import (
    LANG_COOKIE,
    LOGIN_CSRF_COOKIE,
    CsrfSessionDep,
    accounts,
    current_session,
    end_session,
    login_csrf,
    safe_next,
    same_origin,
    set_cookie,
    start_session,
)
from taste2vec.ui.i18n import LANGS, t
from taste2vec.ui.templating import lang_of, render

router = APIRouter(include_in_schema=False)
LOGIN_CSRF_MAX_AGE = 3600


def home_of(role: str, user_id: str | None) -> str:
    return "/console" if role == "admin" or user_id is None else f"/u/{user_id}/taste"


@router.get("/")
def front_door(request: Request) -> Response:
    session = current_session(request)
    if session is None:
        return RedirectResponse("/login", status_code=303)
    return RedirectResponse(home_of(session.role, session.user_id), status_code=303)


def _login_page(
    request: Request,
    next_path: str,
    status_code: int = 200,
    error: str | None = None,
    name: str = "",
) -> HTMLResponse:
    token = login_csrf(request)
    response = render(
        request,
        "login.html",
        None,
        status_code=status_code,
        csrf=token,
        next_path=next_path,
        error=error,
        name=name,
    )
    set_cookie(request, response, LOGIN_CSRF_COOKIE, token, LOGIN_CSRF_MAX_AGE)
    return response


@router.get("/login")
def login_form(request: Request, next: str | None = None) -> Response:  # noqa: A002
    return _login_page(request, safe_next(next))


@router.post("/login")
async def login(request: Request) -> Response:
    form = await request.form()
    field = {k: v for k, v in form.items() if isinstance(v, str)}
    next_path = safe_next(field.get("next"))
    tr = t(lang_of(request))
    cookie = request.cookies.get(LOGIN_CSRF_COOKIE, "")
    given = field.get("csrf_token", "")
    if not same_origin(request) or not cookie or not secrets.compare_digest(cookie, given):
        return _login_page(request, next_path, 403, tr("err.csrf"))
    name = field.get("username", "").strip()[:128]
    password = field.get("password", "")[:MAX_PASSWORD_CHARS]
    address = request.client.host if request.client else "unknown"
    try:
        signed = accounts(request).sign_in(name, password, address)
    except SignInThrottled as exc:
        page = _login_page(
            request,
            next_path,
            429,
            tr("login.throttled", scope=tr(f"login.scope.{exc.scope}"), seconds=exc.retry_after_s),
            name,
        )
        page.headers["Retry-After"] = str(exc.retry_after_s)
        return page
    except SignInFailed:
        return _login_page(request, next_path, 401, tr("login.failed"), name)
    target = next_path if next_path != "/" else home_of(signed.session.role, signed.session.user_id)
    response = RedirectResponse(target, status_code=303)
    start_session(request, response, signed.token)
    response.delete_cookie(LOGIN_CSRF_COOKIE, path="/")
    return response


@router.post("/logout")
def logout(request: Request, session: CsrfSessionDep) -> Response:
    response = RedirectResponse("/login", status_code=303)
    end_session(request, response)
    return response


@router.get("/lang/{code}")
def switch_language(request: Request, code: str, next: str | None = None) -> Response:  # noqa: A002
    response = RedirectResponse(safe_next(next), status_code=303)
    if code in LANGS:
        set_cookie(request, response, LANG_COOKIE, code, 365 * 24 * 3600)
    return response
