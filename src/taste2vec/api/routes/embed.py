"""Cloud inference: embed one record or a batch."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, HTTPException, Request
from starlette.concurrency import run_in_threadpool

from taste2vec.api.deps import PrincipalDep, ServiceDep, check_user
from taste2vec.api.schemas import EmbeddingOut, EmbedRequest, EmbedResponse, error_responses
from taste2vec.api.strict import json_types_of

router = APIRouter(prefix="/v1", tags=["inference"])


@router.post(
    "/embed",
    summary="Embed tasting records",
    description="Returns each record's 128-d taste vector and its explanation (predicted "
    "sensory intensities and flavour-family probabilities). Nothing is stored. At most "
    "`T2V_MAX_BATCH` records per call (512 by default; the schema's `maxItems`), more "
    "answer 413.",
    responses=error_responses(
        (403, "A user key may only embed its own user's records."),
        (413, "More records than `T2V_MAX_BATCH`, or a body over `T2V_MAX_BODY_BYTES`."),
    ),
)
async def embed(
    body: Annotated[EmbedRequest, json_types_of(EmbedRequest)],
    request: Request,
    service: ServiceDep,
    principal: PrincipalDep,
) -> EmbedResponse:
    limit = request.app.state.settings.max_batch
    if len(body.records) > limit:
        raise HTTPException(413, f"at most {limit} records per call, got {len(body.records)}")
    for record in body.records:
        check_user(principal, record.user)
    vectors, why = await run_in_threadpool(service.embed, body.records)
    return EmbedResponse(
        model_version=service.model_version or "",
        items=[
            EmbeddingOut(
                id=r.id, embedding=[round(float(x), 6) for x in v], explanation=w.to_dict()
            )
            for r, v, w in zip(body.records, vectors, why, strict=True)
        ],
    )
