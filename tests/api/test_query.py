"""Query parameters parsed as one model (taste2vec.api.query): documented and refused
exactly as FastAPI documents and refuses the same model declared parameter by parameter."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import FastAPI, Query, Request
from fastapi.testclient import TestClient

from taste2vec.api.query import parse_query, query_parameters
from taste2vec.api.routes.recommendations import RecommendationQuery


def _apps() -> tuple[FastAPI, FastAPI]:
    """The same parameters declared FastAPI's way and parsed by ``parse_query``."""
    declared, parsed = FastAPI(), FastAPI()

    @declared.get("/r")
    async def by_fastapi(q: Annotated[RecommendationQuery, Query()]) -> dict[str, Any]:
        return q.model_dump(mode="json")

    @parsed.get("/r", openapi_extra={"parameters": query_parameters(RecommendationQuery)})
    async def by_parse_query(request: Request) -> dict[str, Any]:
        return parse_query(RecommendationQuery, request).model_dump(mode="json")

    return declared, parsed


def test_the_documented_parameters_are_fastapis_own() -> None:
    declared, parsed = _apps()
    params = [a.openapi()["paths"]["/r"]["get"]["parameters"] for a in (declared, parsed)]
    assert [p["name"] for p in params[1]] == list(RecommendationQuery.model_fields)
    assert params[0] == params[1]


def test_values_and_refusals_match_fastapis() -> None:
    declared, parsed = _apps()
    queries = [
        "",
        "k=3&hour=21&location_type=cafe&mood=4",
        "k=2&k=3",  # the last value of a repeated name
        "unknown=1",
        "hour=25",
        "k=0",
        "k=abc",
        "k=",
        "hour=3.5",
        "mood=nan",
        "social_setting=bogus",
        "experiment=bad%20id",
        "weekday=-1&hour=99",
    ]
    with TestClient(declared) as a, TestClient(parsed) as b:
        for q in queries:
            ra, rb = a.get(f"/r?{q}"), b.get(f"/r?{q}")
            assert (ra.status_code, ra.json()) == (rb.status_code, rb.json()), q
    refused = TestClient(parsed).get("/r?hour=25").json()["detail"]
    assert [e["loc"] for e in refused] == [["query", "hour"]]
