"""The operator console's Models, Experiments and Curation pages (admin role).

Each handler calls :class:`~taste2vec.service.console_ops.OpsView` and renders a
template. Promote, rollback and stop are two steps: the first post (CSRF-checked, a
reason required) shows a confirmation page naming what will change; only its form,
whose ``confirm`` field names the version (or the experiment), acts. The actor in the
audit log is the signed-in admin's account name.
"""

from __future__ import annotations

import re
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from taste2vec.errors import ConflictError, NotFoundError, SchemaError, StoreError
from taste2vec.registry import ALIASES, ChecksumError
from taste2vec.service.console_ops import MAX_PAGE, MAX_REASON_CHARS, OpsView
from taste2vec.store import UiSession
from taste2vec.stream.state import StreamReader
from taste2vec.ui import charts
from taste2vec.ui.auth import AdminSessionDep, check_csrf
from taste2vec.ui.templating import render

router = APIRouter(include_in_schema=False)

VERSION = re.compile(r"^[0-9]{1,9}$")
ExperimentPath = Annotated[str, Path(min_length=1, max_length=128, pattern=r"^[A-Za-z0-9._:@-]+$")]
PageQuery = Annotated[int, Query(ge=1, le=MAX_PAGE)]
MonthQuery = Annotated[str, Query(max_length=7, pattern=r"^(\d{4}-(0[1-9]|1[0-2]))?$")]
DoneQuery = Annotated[str, Query(max_length=200)]
_MOVE_ERRORS = (ConflictError, NotFoundError, SchemaError, ChecksumError, StoreError)


def ops_view(request: Request) -> OpsView:
    registry = request.app.state.model_registry
    found: OpsView | None = getattr(request.app.state, "ops_view", None)
    if found is None or found.registry is not registry:
        found = OpsView(registry, request.app.state.settings.model_dir)
        request.app.state.ops_view = found
    return found


def _actor(session: UiSession) -> str:
    return session.account


def _text(form: Any, name: str, limit: int) -> str:
    value = form.get(name)
    return value[:limit] if isinstance(value, str) else ""


def _message(exc: Exception) -> str:
    if isinstance(exc, SchemaError) and exc.errors:
        return "; ".join(m for _, m in exc.errors)
    return str(exc)


# ---------------------------------------------------------------------- models
def _models_page(
    request: Request,
    session: UiSession,
    status_code: int = 200,
    errors: dict[str, str] | None = None,
    values: dict[str, str] | None = None,
    done: str = "",
) -> HTMLResponse:
    service = getattr(request.app.state, "service", None)
    serving = str(getattr(service, "model_version", "") or "")
    status = ops_view(request).models(serving)
    return render(
        request,
        "console_models.html",
        session,
        status_code=status_code,
        status=status,
        aliases=ALIASES,
        errors=errors or {},
        values=values or {},
        done=done,
    )


@router.get("/console/models")
def models(request: Request, session: AdminSessionDep, done: DoneQuery = "") -> HTMLResponse:
    return _models_page(request, session, done=done)


async def _move(request: Request, session: UiSession, action: str) -> Response:
    await check_csrf(request, session.csrf_token)
    form = await request.form()
    alias = _text(form, "alias", 64)
    version = _text(form, "version", 20).strip()
    reason = _text(form, "reason", MAX_REASON_CHARS + 1)
    key = f"{action}-{alias}"
    problem = None
    if alias not in ALIASES:
        problem = f"unknown alias {alias!r}"
    elif not VERSION.match(version):
        problem = "choose a version (a version number)"
    elif not reason.strip():
        problem = "a reason is required"
    elif len(reason) > MAX_REASON_CHARS:
        problem = f"the reason is at most {MAX_REASON_CHARS} characters"
    if problem is not None:
        return _models_page(
            request, session, 422, errors={key: problem}, values={key: reason[:MAX_REASON_CHARS]}
        )
    view = ops_view(request)
    if _text(form, "confirm", 20) != version:  # the first step: show what will change
        try:
            info = view.version(version)
            current = view.registry.aliases().get(alias)
        except _MOVE_ERRORS as exc:
            code = 404 if isinstance(exc, NotFoundError) else 503
            return _models_page(request, session, code, errors={key: _message(exc)})
        return render(
            request,
            "console_models_confirm.html",
            session,
            action=action,
            alias=alias,
            info=info,
            current=current,
            reason=reason,
        )
    try:
        if action == "promote":
            event = view.promote(alias, version, actor=_actor(session), reason=reason)
        else:
            event = view.rollback(alias, version, actor=_actor(session), reason=reason)
    except _MOVE_ERRORS as exc:
        code = 404 if isinstance(exc, NotFoundError) else 409
        return _models_page(request, session, code, errors={key: _message(exc)})
    done = f"{action}:{alias}:{version}" if event is not None else f"unchanged:{alias}:{version}"
    return RedirectResponse("/console/models?" + urlencode({"done": done}), status_code=303)


@router.post("/console/models/promote")
async def promote(request: Request, session: AdminSessionDep) -> Response:
    return await _move(request, session, "promote")


@router.post("/console/models/rollback")
async def rollback(request: Request, session: AdminSessionDep) -> Response:
    return await _move(request, session, "rollback")


# ---------------------------------------------------------------------- experiments
def _experiments_page(
    request: Request,
    session: UiSession,
    status_code: int = 200,
    errors: dict[str, str] | None = None,
    done: str = "",
) -> HTMLResponse:
    rows = ops_view(request).experiments()
    bars = {
        r.experiment.id: charts.interval_bar(
            r.interval,
            r.lift_threshold,
            r.relative_lift,
            title=f"{r.experiment.id}: {r.metric}",
        )
        for r in rows
        if r.interval is not None
    }
    series = {
        r.experiment.id: charts.interval_series(
            [(p.at.strftime("%m-%d %H:%M:%S"), p.low, p.high, p.estimate) for p in r.history],
            r.lift_threshold,
            title=f"{r.experiment.id}: {r.metric}",
        )
        for r in rows
        if len(r.history) >= 2
    }
    return render(
        request,
        "console_experiments.html",
        session,
        status_code=status_code,
        rows=rows,
        bars=bars,
        series=series,
        errors=errors or {},
        done=done,
    )


@router.get("/console/experiments")
def experiments(request: Request, session: AdminSessionDep, done: DoneQuery = "") -> HTMLResponse:
    return _experiments_page(request, session, done=done)


@router.post("/console/experiments/{experiment_id}/stop")
async def stop(
    request: Request, experiment_id: ExperimentPath, session: AdminSessionDep
) -> Response:
    await check_csrf(request, session.csrf_token)
    form = await request.form()
    reason = _text(form, "reason", MAX_REASON_CHARS + 1)
    view = ops_view(request)
    if not reason.strip() or len(reason) > MAX_REASON_CHARS:
        problem = (
            "a reason is required"
            if not reason.strip()
            else f"the reason is at most {MAX_REASON_CHARS} characters"
        )
        return _experiments_page(request, session, 422, errors={experiment_id: problem})
    try:
        exp = view.experiment(experiment_id)
    except (NotFoundError, StoreError) as exc:
        return _experiments_page(request, session, 404, errors={experiment_id: _message(exc)})
    if _text(form, "confirm", 200) != experiment_id:
        return render(
            request, "console_experiment_stop.html", session, experiment=exp, reason=reason
        )
    try:
        view.stop(experiment_id, actor=_actor(session), reason=reason)
    except _MOVE_ERRORS as exc:
        code = 404 if isinstance(exc, NotFoundError) else 409
        return _experiments_page(request, session, code, errors={experiment_id: _message(exc)})
    return RedirectResponse(
        "/console/experiments?" + urlencode({"done": experiment_id}), status_code=303
    )


# ---------------------------------------------------------------------- curation
def _boxes_url(month: str, page: int) -> str:
    return "/console/curation?" + urlencode({"month": month, "page": str(page)})


@router.get("/console/curation")
def curation(
    request: Request, session: AdminSessionDep, month: MonthQuery = "", page: PageQuery = 1
) -> HTMLResponse:
    reader: StreamReader | None = getattr(request.app.state, "stream_reader", None)
    found = ops_view(request).boxes(month, page, reader)
    shown = found.run.month if found.run is not None else ""
    boxes: dict[str, list[Any]] = {}
    for pick in found.picks:
        boxes.setdefault(pick.user, []).append(pick)
    return render(
        request,
        "console_curation.html",
        session,
        found=found,
        boxes=boxes,
        prev_url=_boxes_url(shown, found.page - 1) if found.page > 1 else None,
        next_url=_boxes_url(shown, found.page + 1) if found.page < found.pages else None,
        page=found.page,
        pages=found.pages,
    )
