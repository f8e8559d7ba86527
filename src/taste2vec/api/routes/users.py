"""Users and their API keys."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Header, HTTPException, Response

from taste2vec.api.deps import AdminDep, PrincipalDep, ServiceDep, UserIdPath, check_user
from taste2vec.api.schemas import UserCreate, UserCreated, UserPublic, error_responses
from taste2vec.api.strict import json_types_of

router = APIRouter(prefix="/v1/users", tags=["users"])


@router.post(
    "",
    status_code=201,
    summary="Create a user and its API key (admin)",
    description="201 with the new user's API key, shown this once. Creating a user that "
    "exists answers 409 (its key is never shown again). **Retry-safe with an "
    "`Idempotency-Key` header** (16-128 URL-safe characters, e.g. a UUID4): a retry of "
    "the request that created the user answers 201 again, with `Idempotent-Replayed: true` "
    "and a fresh key that replaces the one in the lost answer (keys are stored hashed, so "
    "that one cannot be shown again). The same Idempotency-Key for another user is a 409.",
    responses=error_responses(
        (403, "This needs the admin key."),
        (
            409,
            "The user already exists (without this Idempotency-Key), or the key was "
            "used for another user.",
        ),
        422,
    ),
)
def create_user(
    body: Annotated[UserCreate, json_types_of(UserCreate)],
    service: ServiceDep,
    _: AdminDep,
    response: Response,
    idempotency_key: Annotated[
        str,
        Header(
            description="Makes the request retry-safe (16-128 characters of A-Z, a-z, 0-9, "
            "'_' and '-').",
            # Documented here, checked by the store after the transport's whitespace is
            # stripped (a JSON-schema "$" also admits a trailing newline, which no HTTP
            # header can carry).
            json_schema_extra={"pattern": r"^[A-Za-z0-9_-]{16,128}$"},
        ),
    ] = "",
) -> UserCreated:
    idem = idempotency_key.strip() or None  # absent (or empty): not retry-safe, as before
    key, replayed = service.store.create_user_key(body.id, idem)
    if replayed:
        response.headers["Idempotent-Replayed"] = "true"
    return UserCreated(id=body.id, api_key=key)


@router.get(
    "/{user_id}",
    summary="A user's summary",
    responses=error_responses(
        (403, "A user key may only read its own user."),
        (404, "No such user."),
    ),
)
def get_user(user_id: UserIdPath, service: ServiceDep, principal: PrincipalDep) -> UserPublic:
    check_user(principal, user_id)
    user = service.store.get_user(user_id)
    if user is None:
        raise HTTPException(404, f"no user {user_id!r}")
    return UserPublic(
        id=user.id,
        created_at=user.created_at.isoformat(),
        n_records=len(service.store.records_for_user(user_id, limit=10_000)),
        n_feedback=len(service.store.feedback_for_user(user_id)),
    )
