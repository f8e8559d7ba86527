"""Dependencies shared by the routes: the service and who is calling.

Keys arrive as ``Authorization: Bearer <key>`` or ``X-API-Key: <key>``. A
user key reaches only its own user's data; the admin key manages the
catalogue and everyone's data. Keys are never logged.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, HTTPException, Request, Security
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer

from taste2vec.service import TasteService

_bearer = HTTPBearer(auto_error=False, description="API key as a bearer token")
_header = APIKeyHeader(name="X-API-Key", auto_error=False, description="API key")


@dataclass(frozen=True)
class Principal:
    role: str  # "admin" or "user"
    user_id: str | None

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"


def get_service(request: Request) -> TasteService:
    service: TasteService = request.app.state.service
    return service


ServiceDep = Annotated[TasteService, Depends(get_service)]


def get_principal(
    request: Request,
    bearer: Annotated[HTTPAuthorizationCredentials | None, Security(_bearer)],
    header: Annotated[str | None, Security(_header)],
) -> Principal:
    key = bearer.credentials if bearer is not None else header
    if not key:
        raise HTTPException(401, "missing API key", headers={"WWW-Authenticate": "Bearer"})
    admin_key: str = request.app.state.admin_key
    if secrets.compare_digest(key.encode(), admin_key.encode()):
        return Principal("admin", None)
    info = get_service(request).store.resolve_api_key(key)
    if info is None:
        raise HTTPException(
            401, "unknown or revoked API key", headers={"WWW-Authenticate": "Bearer"}
        )
    return Principal(info.role, info.user_id)


PrincipalDep = Annotated[Principal, Depends(get_principal)]


def require_admin(principal: PrincipalDep) -> Principal:
    if not principal.is_admin:
        raise HTTPException(403, "this needs the admin key")
    return principal


AdminDep = Annotated[Principal, Depends(require_admin)]


def check_user(principal: Principal, user_id: str) -> None:
    """A user key may only act on its own user."""
    if not principal.is_admin and principal.user_id != user_id:
        raise HTTPException(403, "this key may only access its own user's data")
