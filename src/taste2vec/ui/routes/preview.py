"""The lexicon preview the tasting form calls while the taster types (JSON)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel

from taste2vec.schema.records import MAX_NOTES_CHARS
from taste2vec.service.taster import TasterView
from taste2vec.ui.auth import SessionDep

router = APIRouter(prefix="/ui/api", include_in_schema=False)


class HeardOut(BaseModel):
    path: str
    name: str
    name_ko: str
    family: str


class PreviewOut(BaseModel):
    items: list[HeardOut]


def view(request: Request) -> TasterView:
    found: TasterView | None = getattr(request.app.state, "taster_view", None)
    service = request.app.state.service
    if found is None or found.service is not service:
        found = TasterView(service)
        request.app.state.taster_view = found
    return found


@router.get("/hear")
def hear(
    request: Request,
    session: SessionDep,
    text: Annotated[str, Query(max_length=MAX_NOTES_CHARS)] = "",
) -> PreviewOut:
    """The flavours the lexicon hears in ``text`` (each once, in order)."""
    items = view(request).hear(text)
    return PreviewOut(items=[HeardOut(**vars(h)) for h in items])
