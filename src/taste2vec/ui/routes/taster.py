"""The taster's pages: My taste, Log a tasting, Recommendations, My signals.

Each handler checks that the signed-in taster owns the page, calls the service layer and
renders a template; the charts come from :mod:`taste2vec.ui.charts`.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from taste2vec.errors import NotFoundError, SchemaError
from taste2vec.recommend.explain import reason_text_from
from taste2vec.schema import SENSORY_METRICS, FeedbackSignal
from taste2vec.schema.records import ID_PATTERN
from taste2vec.service.taster import TasterView
from taste2vec.store import UiSession
from taste2vec.ui import charts
from taste2vec.ui.auth import CsrfSessionDep, SessionDep, check_owner
from taste2vec.ui.forms import BREW, CONTEXT_CHOICES, CONTEXT_NUMBERS, SLIDERS, tasting_from_form
from taste2vec.ui.i18n import t
from taste2vec.ui.routes.preview import view
from taste2vec.ui.templating import fragment, lang_of, render

router = APIRouter(prefix="/u/{user_id}", include_in_schema=False)
RECS_K = 8
# The same rule as the API's path ids: anything else names nobody (422, never the store).
UserIdPath = Annotated[str, Path(min_length=1, max_length=128, pattern=ID_PATTERN)]
TIMELINE_METRICS = ("acidity", "sweetness", "bitterness", "body")


def _family_labels(request: Request, v: TasterView) -> dict[str, str]:
    ko = lang_of(request) == "ko"
    return {n.name: (n.name_ko if ko else n.name) for n in v.lexicon.nodes if n.level == 1}


@router.get("/taste")
def my_taste(request: Request, user_id: UserIdPath, session: SessionDep) -> HTMLResponse:
    check_owner(session, user_id)
    v = view(request)
    tr = t(lang_of(request))
    profile = v.service.profile(user_id)
    ctx: dict[str, Any] = {"user_id": user_id, "profile": profile}
    if profile is not None:
        metric_labels = {m: tr(f"metric.{m}") for m in SENSORY_METRICS}
        reactions = v.reactions(user_id)
        liked = {c for c, fb in reactions.items() if fb.preference > 0}
        disliked = {c for c, fb in reactions.items() if fb.preference < 0}
        names = v.coffee_names()
        points = [(p.name, p.x, p.y) for p in v.catalogue_map()]
        liked_names = {names.get(c, c) for c in liked}
        disliked_names = {names.get(c, c) for c in disliked}
        timeline = v.timeline(user_id)
        ctx.update(
            radar=charts.radar(profile.radar, metric_labels, tr("taste.radar")),
            wheel=charts.wheel(profile.top_families, _family_labels(request, v), tr("taste.wheel")),
            coffee_map=charts.coffee_map(
                points,
                profile.map_xy,
                liked_names,
                disliked_names,
                {
                    "you": tr("taste.map.you"),
                    "liked": tr("taste.map.liked"),
                    "disliked": tr("taste.map.disliked"),
                },
                tr("taste.map"),
            ),
            history=charts.lines(
                {
                    metric_labels[m]: [p.profile.radar[m] for p in timeline]
                    for m in TIMELINE_METRICS
                },
                [p.time.strftime("%m-%d") for p in timeline],
                tr("taste.history"),
            )
            if timeline
            else None,
            n_records=len(v.service.history(user_id)),
            n_feedback=len(reactions),
            top_families=profile.top_families[:3],
            family_labels=_family_labels(request, v),
            radar_values=profile.radar,
            metric_labels=metric_labels,
        )
    return render(request, "taste.html", session, **ctx)


def _log_page(
    request: Request,
    session: UiSession,
    user_id: str,
    status_code: int = 200,
    **extra: Any,
) -> HTMLResponse:
    v = view(request)
    coffees = sorted(v.coffee_names().items(), key=lambda kv: kv[1])
    errors: dict[str, str] = extra.get("errors", {})
    families: dict[str, list[Any]] = {}
    for node in v.lexicon.nodes:
        if node.level > 1 and not any(n.parent == node.path for n in v.lexicon.nodes):
            families.setdefault(node.family, []).append(node)
    return render(
        request,
        "log.html",
        session,
        status_code=status_code,
        user_id=user_id,
        coffees=coffees,
        families=families,
        family_labels=_family_labels(request, v),
        sliders=SLIDERS,
        brew=BREW,
        context_numbers=CONTEXT_NUMBERS,
        context_choices=CONTEXT_CHOICES,
        open_brew=any(f"metrics.{m}" in errors for m in BREW),
        open_context=any(k.startswith("context") for k in errors),
        **{"errors": {}, "values": {}, "picked": [], **extra},
    )


@router.get("/log")
def log_form(request: Request, user_id: UserIdPath, session: SessionDep) -> HTMLResponse:
    check_owner(session, user_id)
    return _log_page(request, session, user_id)


@router.post("/log")
async def log_tasting(request: Request, user_id: UserIdPath, session: CsrfSessionDep) -> Response:
    check_owner(session, user_id)
    form = await request.form()
    fields = {k: v for k, v in form.items() if isinstance(v, str) and k != "flavour"}
    picked = [p for p in form.getlist("flavour") if isinstance(p, str)]
    v = view(request)
    result = tasting_from_form(fields, picked, user_id, v.lexicon, lang_of(request))
    if result.record is not None:
        try:
            v.service.add_record(result.record)
        except NotFoundError as exc:
            result.errors["coffee"] = str(exc)
        except SchemaError as exc:
            for name, _ in exc.errors or [("notes", str(exc))]:
                result.errors[name] = str(exc)
    if result.errors:
        return _log_page(
            request,
            session,
            user_id,
            status_code=422,
            errors=result.errors,
            values=result.values,
            picked=result.picked,
        )
    return RedirectResponse(f"/u/{user_id}/taste?saved=1", status_code=303)


def _recs_context(request: Request, user_id: str) -> dict[str, Any]:
    v = view(request)
    lang = lang_of(request)
    # the model of the user's experiment arm, like GET /v1/users/{id}/recommendations
    assignment, items = v.service.recommend_served(user_id, RECS_K)
    model_version = v.service.model_version
    if assignment is not None:
        model_version = assignment.model_version or model_version
    request_id = v.service.recommendation_shown(
        user_id,
        [r.coffee_id for r in items],
        experiment=None if assignment is None else assignment.experiment,
        arm=None if assignment is None else assignment.arm,
        model_version=model_version,
    )
    names = v.coffee_names()
    return {
        "user_id": user_id,
        "items": [
            (r, names.get(r.coffee_id, r.coffee_id), reason_text_from(r.reasons, lang))
            for r in items
        ],
        "request_id": request_id,
        "family_labels": _family_labels(request, v),
    }


@router.get("/recommendations")
def recommendations(request: Request, user_id: UserIdPath, session: SessionDep) -> HTMLResponse:
    check_owner(session, user_id)
    return render(request, "recommendations.html", session, **_recs_context(request, user_id))


@router.post("/recommendations/react")
async def react(request: Request, user_id: UserIdPath, session: CsrfSessionDep) -> Response:
    """Like or dislike a recommended coffee: stored as feedback with its
    ``recommendation_clicked`` event; answers the new list (fragment) or redirects back."""
    check_owner(session, user_id)
    form = await request.form()
    coffee, signal, req = (form.get(k) for k in ("coffee", "signal", "request"))
    if not isinstance(coffee, str) or signal not in ("liked", "disliked"):
        return HTMLResponse("bad reaction", status_code=422)
    v = view(request)
    try:
        clicked = v.react(
            user_id,
            coffee,
            FeedbackSignal(str(signal)),
            req if isinstance(req, str) and req else None,
        )
    except (NotFoundError, SchemaError, ValueError) as exc:
        return HTMLResponse(str(exc), status_code=422)
    if request.headers.get("x-requested-with") == "fetch":
        context = {
            **_recs_context(request, user_id),
            "csrf": session.csrf_token,
            "clicked": clicked,
        }
        return HTMLResponse(fragment(request, "_recs.html", **context))
    return RedirectResponse(f"/u/{user_id}/recommendations", status_code=303)


@router.get("/signals")
def signals(request: Request, user_id: UserIdPath, session: SessionDep) -> HTMLResponse:
    check_owner(session, user_id)
    v = view(request)
    tr = t(lang_of(request))
    ratings = v.ratings(user_id)
    chart = (
        charts.lines(
            {tr("signals.ratings"): [float(r) for _, r in ratings]},
            [time.strftime("%m-%d") for time, _ in ratings],
            tr("signals.ratings"),
            low=1.0,
            high=5.0,
        )
        if ratings
        else None
    )
    reader = getattr(request.app.state, "stream_reader", None)
    stream = reader.user_signals(user_id) if reader is not None else None
    return render(
        request,
        "signals.html",
        session,
        user_id=user_id,
        ratings_chart=chart,
        n_ratings=len(ratings),
        stream=stream,
    )
