"""Rendering: one Jinja2 environment (autoescaped), the common page context and the
security headers every UI page carries."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse
from jinja2 import Environment, FileSystemLoader, select_autoescape

from taste2vec.store import UiSession
from taste2vec.ui.auth import LANG_COOKIE
from taste2vec.ui.i18n import pick_lang, t

HERE = Path(__file__).parent
ENV = Environment(
    loader=FileSystemLoader(HERE / "templates"),
    autoescape=select_autoescape(default=True, default_for_string=True),
    trim_blocks=True,
    lstrip_blocks=True,
)
SECURITY_HEADERS = {
    # Nothing inline may run and nothing loads from elsewhere: the UI needs no CDN.
    "Content-Security-Policy": "default-src 'self'; img-src 'self' data:; style-src 'self'; "
    "script-src 'self'; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; "
    "base-uri 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "X-Frame-Options": "DENY",
    "Cache-Control": "no-store",
}


def lang_of(request: Request) -> str:
    return pick_lang(request.cookies.get(LANG_COOKIE))


def render(
    request: Request,
    template: str,
    session: UiSession | None = None,
    status_code: int = 200,
    **context: Any,
) -> HTMLResponse:
    lang = lang_of(request)
    html = ENV.get_template(template).render(
        request=request,
        path=request.url.path,
        lang=lang,
        tr=t(lang),
        session=session,
        csrf=session.csrf_token if session else context.pop("csrf", ""),
        **context,
    )
    return HTMLResponse(html, status_code=status_code, headers=SECURITY_HEADERS)


def fragment(request: Request, template: str, **context: Any) -> str:
    lang = lang_of(request)
    return ENV.get_template(template).render(request=request, lang=lang, tr=t(lang), **context)
