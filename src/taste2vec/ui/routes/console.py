"""The operator console (admin role): the entry page, the catalogue and its stock (search,
stock edit, CSV import, delete with a confirmation step) and the stream (lag,
throughput, the background loops, dead letters, metrics per experiment arm).

Each handler calls :class:`~taste2vec.service.console.ConsoleView` and renders a
template; every form posts the session's CSRF token. The model, experiment and box pages
come with the issues that build those features.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.datastructures import UploadFile

from taste2vec.errors import NotFoundError, SchemaError
from taste2vec.schema.records import ID_PATTERN
from taste2vec.service.console import MAX_PAGE, MAX_QUERY_CHARS, ConsoleView
from taste2vec.store import UiSession
from taste2vec.stream.state import StreamReader
from taste2vec.ui.auth import AdminSessionDep, check_csrf
from taste2vec.ui.templating import render

router = APIRouter(include_in_schema=False)
# The API's rule for path ids: anything else names no coffee (422, never the store).
CoffeeIdPath = Annotated[str, Path(min_length=1, max_length=128, pattern=ID_PATTERN)]
PageQuery = Annotated[int, Query(ge=1, le=MAX_PAGE)]
SearchQuery = Annotated[str, Query(max_length=MAX_QUERY_CHARS)]


def console_view(request: Request) -> ConsoleView:
    found: ConsoleView | None = getattr(request.app.state, "console_view", None)
    service = request.app.state.service
    if found is None or found.service is not service:
        found = ConsoleView(service)
        request.app.state.console_view = found
    return found


def _reader(request: Request) -> StreamReader | None:
    reader: StreamReader | None = getattr(request.app.state, "stream_reader", None)
    return reader


async def _admin_csrf(request: Request, session: UiSession) -> None:
    await check_csrf(request, session.csrf_token)


def _catalogue_url(query: str = "", page: int = 1, **extra: str) -> str:
    params = {k: v for k, v in (("q", query), ("page", str(page)), *extra.items()) if v}
    if params.get("page") == "1":
        del params["page"]
    return "/console/catalogue" + ("?" + urlencode(params) if params else "")


@router.get("/console")
def console(request: Request, session: AdminSessionDep) -> HTMLResponse:
    store = request.app.state.service.store
    users = store.list_users(limit=200)
    return render(request, "console.html", session, users=users)


# ---------------------------------------------------------------------- catalogue
def _catalogue_page(
    request: Request,
    session: UiSession,
    query: str,
    page: int,
    status_code: int = 200,
    **extra: Any,
) -> HTMLResponse:
    found = console_view(request).catalogue(query, page)
    return render(
        request,
        "console_catalogue.html",
        session,
        status_code=status_code,
        found=found,
        prev_url=_catalogue_url(found.query, found.page - 1) if found.page > 1 else None,
        next_url=_catalogue_url(found.query, found.page + 1) if found.page < found.pages else None,
        **{"stock_errors": {}, "stock_values": {}, **extra},
    )


@router.get("/console/catalogue")
def catalogue(
    request: Request,
    session: AdminSessionDep,
    q: SearchQuery = "",
    page: PageQuery = 1,
    saved: Annotated[str, Query(max_length=128)] = "",
    deleted: Annotated[str, Query(max_length=128)] = "",
) -> HTMLResponse:
    return _catalogue_page(request, session, q, page, saved=saved, deleted=deleted)


def _form_text(form: Any, name: str, limit: int = 1000) -> str:
    value = form.get(name)
    return value[:limit] if isinstance(value, str) else ""


def _form_page(form: Any) -> int:
    text = _form_text(form, "page", 10)
    return min(int(text), MAX_PAGE) if text.isdigit() and int(text) >= 1 else 1


@router.post("/console/catalogue/{coffee_id}/stock")
async def set_stock(
    request: Request, coffee_id: CoffeeIdPath, session: AdminSessionDep
) -> Response:
    """Set one coffee's stock; a bad value is shown next to that coffee's field (422)."""
    await _admin_csrf(request, session)
    form = await request.form()
    query = _form_text(form, "q", MAX_QUERY_CHARS)
    page = _form_page(form)
    value = _form_text(form, "stock", 100)
    try:
        console_view(request).set_stock(coffee_id, value)
    except NotFoundError as exc:
        return _catalogue_page(
            request, session, query, page, 404, stock_errors={coffee_id: str(exc)}
        )
    except SchemaError as exc:
        message = "; ".join(m for _, m in exc.errors) if exc.errors else str(exc)
        return _catalogue_page(
            request,
            session,
            query,
            page,
            422,
            stock_errors={coffee_id: message},
            stock_values={coffee_id: value},
        )
    return RedirectResponse(
        _catalogue_url(query, page, saved=coffee_id) + f"#coffee-{coffee_id}", status_code=303
    )


@router.get("/console/catalogue/{coffee_id}/delete")
def confirm_delete(
    request: Request, coffee_id: CoffeeIdPath, session: AdminSessionDep
) -> HTMLResponse:
    """The confirmation step: what will be deleted, and a form that deletes it."""
    try:
        coffee = console_view(request).coffee(coffee_id)
    except NotFoundError as exc:
        return render(
            request, "error.html", session, status_code=404, message=str(exc), message_key=""
        )
    return render(request, "console_delete.html", session, coffee=coffee)


@router.post("/console/catalogue/{coffee_id}/delete")
async def delete_coffee(
    request: Request, coffee_id: CoffeeIdPath, session: AdminSessionDep
) -> Response:
    """Delete only with the confirmation form's ``confirm`` field naming the coffee; any
    other post shows the confirmation step again and deletes nothing."""
    await _admin_csrf(request, session)
    form = await request.form()
    view = console_view(request)
    if _form_text(form, "confirm", 200) != coffee_id:
        try:
            coffee = view.coffee(coffee_id)
        except NotFoundError as exc:
            return render(
                request, "error.html", session, status_code=404, message=str(exc), message_key=""
            )
        return render(request, "console_delete.html", session, coffee=coffee)
    try:
        view.delete_coffee(coffee_id)
    except NotFoundError as exc:
        return render(
            request, "error.html", session, status_code=404, message=str(exc), message_key=""
        )
    return RedirectResponse(_catalogue_url(deleted=coffee_id), status_code=303)


@router.get("/console/catalogue/import")
def import_form(request: Request, session: AdminSessionDep) -> HTMLResponse:
    return render(request, "console_import.html", session, result=None)


@router.post("/console/catalogue/import")
async def import_csv(request: Request, session: AdminSessionDep) -> HTMLResponse:
    """Import the uploaded catalogue CSV: the valid rows are stored, the bad ones listed
    with their problems (422 when any row, or the file, was refused)."""
    form = await request.form()
    try:  # the upload's temporary file is closed whatever happens (a refused token too)
        await _admin_csrf(request, session)
        upload = form.get("file")
        data = await upload.read() if isinstance(upload, UploadFile) else b""
    finally:
        await form.close()
    result = console_view(request).import_csv(data)
    failed = result.file_error is not None or bool(result.row_errors)
    return render(
        request,
        "console_import.html",
        session,
        status_code=422 if failed else 200,
        result=result,
        filename=upload.filename if isinstance(upload, UploadFile) else None,
    )


# ---------------------------------------------------------------------- stream
def _when(value: float | None) -> str | None:
    if value is None:
        return None
    return datetime.fromtimestamp(value, UTC).strftime("%Y-%m-%d %H:%M:%SZ")


@router.get("/console/stream")
def stream(request: Request, session: AdminSessionDep) -> HTMLResponse:
    view = console_view(request)
    reader = _reader(request)
    status = view.stream(reader)
    letters, page, pages = view.dead_letters(reader, 1)
    return render(
        request,
        "console_stream.html",
        session,
        status=status,
        loops=[(name, h, _when(h.last_error_at)) for name, h in status.loops.items()],
        arms=view.arms(reader),
        letters=letters,
        page=page,
        pages=pages,
    )


@router.get("/console/stream/dead-letters")
def dead_letters(request: Request, session: AdminSessionDep, page: PageQuery = 1) -> HTMLResponse:
    view = console_view(request)
    letters, shown, pages = view.dead_letters(_reader(request), page)
    return render(
        request,
        "console_dead_letters.html",
        session,
        letters=letters,
        page=shown,
        pages=pages,
        prev_url=f"/console/stream/dead-letters?page={shown - 1}" if shown > 1 else None,
        next_url=f"/console/stream/dead-letters?page={shown + 1}" if shown < pages else None,
    )
