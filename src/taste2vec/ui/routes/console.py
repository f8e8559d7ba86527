"""The operator console's entry page (admin role): the users. Its model, experiment,
stream and box pages come with the issues that build those features."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from taste2vec.ui.auth import AdminSessionDep
from taste2vec.ui.templating import render

router = APIRouter(include_in_schema=False)


@router.get("/console")
def console(request: Request, session: AdminSessionDep) -> HTMLResponse:
    store = request.app.state.service.store
    users = store.list_users(limit=200)
    return render(request, "console.html", session, users=users)
