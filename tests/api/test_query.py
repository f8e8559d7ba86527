"""Query parameters parsed as one model (taste2vec.api.query): documented and refused
exactly as FastAPI documents and refuses the same model declared parameter by parameter."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import FastAPI, Query, Request
from fastapi.testclient import TestClient

from taste2vec.api.deps import UserIdPath
from taste2vec.api.query import parse_path, parse_query, path_parameters, query_parameters
from taste2vec.api.routes.recommendations import RecommendationQuery, UserPath


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


def test_path_parameters_are_documented_and_refused_as_fastapi_does() -> None:
    declared, parsed = FastAPI(), FastAPI()

    @declared.get("/u/{user_id}")
    async def by_fastapi(user_id: UserIdPath) -> dict[str, str]:
        return {"user": user_id}

    @parsed.get("/u/{user_id}", openapi_extra={"parameters": path_parameters(UserPath)})
    async def by_parse_path(request: Request) -> dict[str, str]:
        return {"user": parse_path(UserPath, request).user_id}

    params = [a.openapi()["paths"]["/u/{user_id}"]["get"]["parameters"] for a in (declared, parsed)]
    assert params[0] == params[1]
    with TestClient(declared) as a, TestClient(parsed) as b:
        for user in ("demo-ana", "a.b@c:d", "bad$id", "x" * 129, "%20", ".hidden", "..x", "-"):
            ra, rb = a.get(f"/u/{user}"), b.get(f"/u/{user}")
            assert (ra.status_code, ra.json()) == (rb.status_code, rb.json()), user
        assert b.get("/u/bad$id").json()["detail"][0]["loc"] == ["path", "user_id"]
