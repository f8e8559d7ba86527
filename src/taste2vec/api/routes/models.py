"""Model downloads for the app (edge bundles) and the admin routes of the model
registry (``/v1/models/registry``).

Edge bundles: which bundles an alias names is :mod:`taste2vec.service.edge_bundles`
(``champion`` and ``challenger`` through the model registry, ``current``, ``latest``, export
aliases and versions through the edge folder); these routes turn it into HTTP. Responses
carry a strong ETag (the archive's SHA-256) and answer ``If-None-Match`` with 304, so an
app re-downloads only what changed.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from datetime import datetime
from pathlib import Path as PathLib
from typing import Annotated, Any, TypeVar

from fastapi import APIRouter, HTTPException, Path, Query, Request, Response
from fastapi.responses import FileResponse
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, TypeAdapter, ValidationError

from taste2vec.api.deps import AdminDep, Principal, PrincipalDep
from taste2vec.api.schemas import error_responses
from taste2vec.edge.registry import BundleFolder, EdgeRegistry
from taste2vec.edge.spec import FORMATS, SUFFIX
from taste2vec.errors import ArtifactError
from taste2vec.registry import ALIASES, ChecksumError, ModelRegistry, VersionInfo
from taste2vec.service.edge_bundles import EdgeBundles
from taste2vec.store import AliasEvent

T = TypeVar("T")

router = APIRouter(prefix="/v1/models", tags=["models"])

DEFAULT_FORMAT = "tflite-int8"


class EdgeBundleInfo(BaseModel):
    format: str
    size: int = Field(description="Archive size in bytes.")
    sha256: str = Field(description="SHA-256 of the archive; the download's ETag.")
    created: str
    parity: dict[str, Any] = Field(description="The parity gate's report for this bundle.")


class EdgeVersionOut(BaseModel):
    model_version: str
    aliases: list[str]
    bundles: list[EdgeBundleInfo]


class EdgeCatalogueOut(BaseModel):
    serving: str = Field(description="Model version this server serves (alias 'current').")
    versions: list[EdgeVersionOut]
    registry_error: str | None = Field(
        default=None,
        description="Why the model registry's champion/challenger bundles are missing from "
        "this list (registry unreachable, corrupt artifact); null when they are listed.",
    )


def registry_for(request: Request) -> EdgeRegistry:
    return EdgeRegistry.beside(request.app.state.settings.model_dir)


def _edge_bundles(request: Request, registry: EdgeRegistry) -> EdgeBundles:
    service = getattr(request.app.state, "service", None)
    source = getattr(service, "model_source", None)
    return EdgeBundles(registry, model_registry(request), _serving(request), source)


def _folder(bundles: EdgeBundles, alias: str) -> BundleFolder | None:
    """``bundles.folder(alias)``; a corrupt registry version is a 503."""
    try:
        return bundles.folder(alias)
    except ChecksumError as exc:
        raise HTTPException(503, str(exc)) from None


def _etag_matches(header: str | None, etag: str) -> bool:
    if not header:
        return False
    tags = [t.strip() for t in header.split(",")]
    return "*" in tags or etag in tags or f"W/{etag}" in tags


@router.get(
    "/edge",
    summary="List the edge bundles",
    description="Every model version with edge bundles, with its aliases, formats, sizes, "
    "checksums and parity reports: those of the edge folder (`taste2vec export`) and those "
    "stored in the model registry versions `champion` and `challenger` point at.",
    responses=error_responses((503, "The edge registry could not be read.")),
)
def list_edge(request: Request, principal: PrincipalDep) -> EdgeCatalogueOut:
    found = _edge_bundles(request, registry_for(request)).catalogue()
    versions = [
        EdgeVersionOut(
            model_version=v.model_version,
            aliases=v.aliases,
            bundles=[
                EdgeBundleInfo(
                    format=fmt,
                    size=int(info["size"]),
                    sha256=str(info["sha256"]),
                    created=str(info["created"]),
                    parity=dict(info.get("parity") or {}),
                )
                for fmt, info in sorted(v.folder.formats().items())
            ],
        )
        for v in found.versions
    ]
    return EdgeCatalogueOut(
        serving=found.serving, versions=versions, registry_error=found.registry_error
    )


@router.get(
    "/edge/{alias}",
    summary="Download an edge bundle",
    description="The bundle archive (zip, `.t2vb`) for a model alias (`champion` and "
    "`challenger` through the model registry; `latest`, `current`, an export alias) or a "
    "model version, in one format: `tflite`, `tflite-int8`, `onnx` or `onnx-int8`. "
    "Send the ETag back as `If-None-Match` to get 304 when nothing changed. "
    "Run it with `taste2vec.edge.runtime.EdgeRuntime` (see docs/edge.md).",
    response_class=FileResponse,
    responses={
        200: {"content": {"application/zip": {}}, "description": "The bundle archive."},
        304: {"description": "The bundle matches If-None-Match."},
        **error_responses(
            (404, "Unknown alias, unknown format, or no bundle of that format for it."),
            (503, "The edge or model registry could not be read, or the artifact is corrupt."),
        ),
    },
)
def get_edge(
    alias: str,
    request: Request,
    principal: PrincipalDep,
    fmt: Annotated[
        str,
        Query(
            alias="format",
            description=f"One of {', '.join(FORMATS)}.",
            examples=["tflite-int8"],
        ),
    ] = DEFAULT_FORMAT,
) -> Response:
    bundles = _edge_bundles(request, registry_for(request))
    folder = _folder(bundles, alias)
    if folder is None:
        if alias in ALIASES:
            raise HTTPException(404, f"no model registry version has the alias {alias!r} yet")
        known = bundles.known()
        hint = f"known: {', '.join(known)}" if known else "none yet; run: taste2vec export"
        raise HTTPException(404, f"no edge bundles for {alias!r} ({hint}; or champion, challenger)")
    if fmt not in FORMATS:
        raise HTTPException(404, f"unknown edge format {fmt!r}; formats: {', '.join(FORMATS)}")
    entry = folder.entry(fmt)
    if entry is None:
        version = folder.model_version
        have = ", ".join(sorted(folder.formats())) or "none"
        export = f"taste2vec export --format {fmt.removesuffix('-int8')}" + (
            " --int8" if fmt.endswith("-int8") else ""
        )
        where = (
            "; a registry version carries the bundles exported before it was registered"
            if alias in ALIASES
            else ""
        )
        raise HTTPException(
            404, f"model {version} has no {fmt} bundle (exported: {have}); run: {export}{where}"
        )
    headers = {
        "ETag": entry.etag,
        "Cache-Control": "no-cache",
        "X-Model-Version": entry.model_version,
        "X-Edge-Format": entry.format,
    }
    if _etag_matches(request.headers.get("if-none-match"), entry.etag):
        return Response(status_code=304, headers=headers)
    return FileResponse(
        entry.path,
        media_type="application/zip",
        filename=f"taste2vec-{entry.model_version}-{entry.format}{SUFFIX}",
        headers=headers,
    )


def _serving(request: Request) -> str | None:
    """The version of the model this process serves (None while starting)."""
    service = getattr(request.app.state, "service", None)
    return None if service is None else service.model_version


# ------------------------------------------------------------------ the model registry
# Admin routes over taste2vec.registry (docs/registry.md). Moves land in the audit log.


class RegistryVersionOut(BaseModel):
    version: str = Field(description="The registry's version number.")
    weights_version: str = Field(description="The weights' hash: `model_version` in answers.")
    created: str
    run_id: str
    aliases: list[str]
    lexicon_version: str
    scaler_version: str
    data_fingerprint: str
    data_sha256: str = Field(description="SHA-256 of the training data's data.json.")
    manifest_sha256: str = Field(description="SHA-256 of the version's checksum manifest.")
    edge_formats: list[str]
    description: str
    registered_by: str
    metrics: dict[str, float]


class RegistryOut(BaseModel):
    model_name: str
    uri: str = Field(description="The MLflow registry URI (credentials are never shown).")
    model_source: str = Field(description="`dir` or `registry`: what this process follows.")
    serving: str = Field(description="The weights version this process serves.")
    serving_registry_version: str | None = Field(
        description="The registry version this process serves (model_source=registry)."
    )
    aliases: dict[str, str]
    versions: list[RegistryVersionOut]


class RegisterIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    model_dir: str = Field(
        min_length=1,
        max_length=4096,
        description="A model directory on the server (written by `taste2vec train --out`).",
    )
    description: str = Field(default="", max_length=5000)


class RegisterOut(BaseModel):
    created: bool = Field(description="False when these weights were registered before.")
    version: RegistryVersionOut


class MoveIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    version: str = Field(pattern=r"^[0-9]{1,9}$", description="The version to point at.")
    reason: str = Field(default="", max_length=2000)
    evidence: dict[str, Any] = Field(default_factory=dict, description="Any JSON object.")


class RollbackIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    to: str | None = Field(
        default=None,
        pattern=r"^[0-9]{1,9}$",
        description="A version; default: the one the alias held before its current one.",
    )
    reason: str = Field(default="", max_length=2000)
    evidence: dict[str, Any] = Field(default_factory=dict)


class AliasEventOut(BaseModel):
    model_name: str
    alias: str
    move: int
    action: str = Field(description="promote, rollback, adopt or remove.")
    previous_version: str | None
    new_version: str | None
    actor: str
    reason: str
    evidence: dict[str, Any]
    created_at: str


class MoveOut(BaseModel):
    moved: bool = Field(description="False when the alias already pointed there.")
    event: AliasEventOut | None


class HistoryOut(BaseModel):
    events: list[AliasEventOut]
    at: str | None = Field(default=None, description="The time asked about, if any.")
    version_at: str | None = Field(
        default=None, description="The version the alias pointed at, at `at` (null: unset)."
    )


AliasPath = Annotated[
    str, Path(description="`champion` or `challenger`.", examples=["champion"], max_length=64)
]

_REGISTRY_ERRORS = (
    (403, "This needs the admin key."),
    (503, "The MLflow registry could not be reached, or an artifact is unreadable."),
)


def model_registry(request: Request) -> ModelRegistry:
    registry: ModelRegistry = request.app.state.model_registry
    return registry


def _version_out(info: VersionInfo) -> RegistryVersionOut:
    return RegistryVersionOut(**info.to_dict())


def _event_out(event: AliasEvent) -> AliasEventOut:
    return AliasEventOut(**event.to_dict())


def _actor(principal: Principal) -> str:
    return f"api:{principal.user_id or principal.role}"


def _checked(call: Callable[[], T]) -> T:
    """A corrupt artifact on promote/rollback is a 409 (the move is refused), not a 503."""
    try:
        return call()
    except ChecksumError as exc:
        raise HTTPException(409, str(exc)) from None


@router.get(
    "/registry",
    summary="List the model registry (admin)",
    description="Every registered version with its aliases, lexicon and scaler versions, "
    "data fingerprint, checksums and metrics, and what this process serves.",
    responses=error_responses(*_REGISTRY_ERRORS),
)
def list_registry(request: Request, _: AdminDep) -> RegistryOut:
    registry = model_registry(request)
    source = getattr(getattr(request.app.state, "service", None), "model_source", None)
    settings = request.app.state.settings
    return RegistryOut(
        model_name=registry.name,
        uri=registry.display_uri,
        model_source=settings.model_source,
        serving=str(_serving(request) or ""),
        serving_registry_version=getattr(source, "registry_version", None),
        aliases=registry.aliases(),
        versions=[_version_out(v) for v in registry.versions(metrics=True)],
    )


@router.post(
    "/registry/versions",
    status_code=201,
    summary="Register a model directory (admin)",
    description="Registers a model directory on the server as a new version (with its edge "
    "bundles when `taste2vec export` made some). Registering weights that already have a "
    "version returns that version with `created: false`.",
    responses=error_responses(
        *_REGISTRY_ERRORS,
        (404, "No complete model directory at `model_dir` on the server."),
        (422, "Invalid body."),
    ),
)
def register_version(body: RegisterIn, request: Request, principal: AdminDep) -> RegisterOut:
    path = PathLib(body.model_dir)
    try:
        found = path.is_dir()
    except (OSError, ValueError):  # a name too long for the filesystem, a NUL byte, ...
        found = False
    if not found:
        raise HTTPException(404, f"no model directory at {body.model_dir!r}")
    try:
        info, created = model_registry(request).register(
            path, actor=_actor(principal), description=body.description
        )
    except ArtifactError as exc:  # a folder, but not a complete model: not found as one
        raise HTTPException(404, str(exc)) from None
    return RegisterOut(created=created, version=_version_out(info))


@router.get(
    "/registry/aliases/{alias}",
    summary="The version an alias points at (admin)",
    responses=error_responses(*_REGISTRY_ERRORS, (404, "Unknown alias, or no version has it yet.")),
)
def get_alias(alias: AliasPath, request: Request, _: AdminDep) -> RegistryVersionOut:
    registry = model_registry(request)
    ref = registry.resolve(alias)
    if ref is None:
        raise HTTPException(404, f"no version has the alias {alias!r} yet")
    return _version_out(registry.version(ref.version))


@router.post(
    "/registry/aliases/{alias}/promote",
    summary="Point an alias at a version (admin)",
    description="Verifies the version's checksums, appends the move (who, why, evidence) "
    "to the audit log, then moves the alias; every replica following `champion` loads it "
    "within seconds. A missing version is 404, a corrupt artifact 409; neither moves "
    "anything.",
    responses=error_responses(
        *_REGISTRY_ERRORS,
        (404, "Unknown alias or version."),
        (409, "The artifact is corrupt, or the alias was moved concurrently."),
    ),
)
def promote_alias(alias: AliasPath, body: MoveIn, request: Request, principal: AdminDep) -> MoveOut:
    registry = model_registry(request)
    event = _checked(
        lambda: registry.promote(
            body.version,
            alias=alias,
            actor=_actor(principal),
            reason=body.reason,
            evidence=body.evidence,
        )
    )
    return MoveOut(moved=event is not None, event=None if event is None else _event_out(event))


@router.post(
    "/registry/aliases/{alias}/rollback",
    summary="Move an alias back (admin)",
    description="Points the alias at the version it held before the move that set its "
    "current one (or at `to`), after verifying that version's checksums; audited.",
    responses=error_responses(
        *_REGISTRY_ERRORS,
        (404, "Unknown alias or version."),
        (409, "Nothing to roll back to, a corrupt artifact, or a concurrent move."),
    ),
)
def rollback_alias(
    alias: AliasPath, body: RollbackIn, request: Request, principal: AdminDep
) -> MoveOut:
    registry = model_registry(request)
    event = _checked(
        lambda: registry.rollback(
            alias=alias,
            to=body.to,
            actor=_actor(principal),
            reason=body.reason,
            evidence=body.evidence,
        )
    )
    return MoveOut(moved=True, event=_event_out(event))


@router.get(
    "/registry/history",
    summary="The alias audit log (admin)",
    description="Every alias move, newest first. With `at` (ISO 8601), also which version "
    "`alias` (default `champion`: the one serving) pointed at, at that time.",
    responses=error_responses(*_REGISTRY_ERRORS, (404, "Unknown alias.")),
)
def registry_history(
    request: Request,
    _: AdminDep,
    alias: Annotated[str | None, Query(max_length=64, examples=["champion"])] = None,
    at: Annotated[
        str | None,
        Query(
            description="A time, ISO 8601 with a time zone (e.g. 2026-12-01T09:00:00Z).",
            json_schema_extra={"format": "date-time"},
            max_length=64,
        ),
    ] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> HistoryOut:
    registry = model_registry(request)
    events = [_event_out(e) for e in registry.history(alias, limit=limit)]
    if at is None:
        return HistoryOut(events=events)
    when = _iso_time(at)
    return HistoryOut(
        events=events,
        at=when.isoformat(),
        version_at=registry.alias_at(alias or "champion", when),  # champion: what served
    )


_RFC3339 = re.compile(r"^(\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:)(\d{2})(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$")
_AWARE: TypeAdapter[AwareDatetime] = TypeAdapter(AwareDatetime)


def _iso_time(value: str) -> datetime:
    """An RFC 3339 date-time with a time zone (not a bare number, which pydantic would
    read as Unix seconds); 422 naming ``at`` otherwise. A leap second reads as :59."""
    match = _RFC3339.match(value)
    if match is not None:
        head, sec, frac, zone = match.groups()
        text = f"{head}{min(sec, '59')}{frac or ''}{zone}"
        try:
            return _AWARE.validate_json(json.dumps(text))
        except ValidationError:
            pass
    raise HTTPException(422, f"`at` must be an RFC 3339 date-time with a time zone, got {value!r}")
