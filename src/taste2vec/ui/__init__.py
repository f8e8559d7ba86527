"""The web UI: the taster's pages (and the operator console's entry), served by the
API's FastAPI app at ``/``.

Server-rendered Jinja2 templates, a little vanilla JavaScript, charts as inline SVG drawn
on the server (:mod:`.charts`); everything under ``ui/static`` is served by the app, so
nothing loads from a CDN. Korean and English (:mod:`.i18n`). Sign-in with a user name and
password, sessions and CSRF in :mod:`.auth`; the routes only translate HTTP and call the
service layer (:mod:`taste2vec.service.accounts`, :mod:`taste2vec.service.taster`).

``mount(app)`` adds it to an app; the UI's routes are not part of ``/openapi.json``.
"""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from fastapi.staticfiles import StaticFiles

from taste2vec.ui.auth import Forbidden, SignInRequired, current_session, login_url
from taste2vec.ui.routes import account, console, ops, preview, taster
from taste2vec.ui.templating import HERE, render

__all__ = ["mount"]


async def _sign_in(request: Request, exc: Exception) -> RedirectResponse:
    assert isinstance(exc, SignInRequired)  # noqa: S101
    return RedirectResponse(login_url(exc.next_path), status_code=303)


async def _forbidden(request: Request, exc: Exception) -> HTMLResponse:
    assert isinstance(exc, Forbidden)  # noqa: S101
    session = current_session(request)
    return render(request, "error.html", session, status_code=403, message_key=exc.message_key)


def mount(app: FastAPI) -> None:
    """Serve the UI from ``app``: pages at ``/``, ``/login``, ``/u/<user>/...``,
    ``/console``; static files at ``/ui/static``; the preview at ``/ui/api/hear``."""
    app.add_exception_handler(SignInRequired, _sign_in)
    app.add_exception_handler(Forbidden, _forbidden)
    for module in (account, taster, preview, console, ops):
        app.include_router(module.router)
    app.mount("/ui/static", StaticFiles(directory=HERE / "static"), name="ui-static")
