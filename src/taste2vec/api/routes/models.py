"""Model downloads for the app: edge bundles from the registry beside the model directory.

``taste2vec export`` writes and registers the bundles; this router only serves
them. An alias is ``latest`` (the most recent export), ``current`` (the model
this server is serving), any alias given to ``taste2vec export --alias``, or a
model version itself. Responses carry a strong ETag (the archive's SHA-256) and
answer ``If-None-Match`` with 304, so an app re-downloads only what changed.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query, Request, Response
from fastapi.responses import FileResponse
from pydantic import BaseModel, Field

from taste2vec.api.deps import PrincipalDep
from taste2vec.api.schemas import error_responses
from taste2vec.edge.registry import EdgeRegistry
from taste2vec.edge.spec import FORMATS, SUFFIX

router = APIRouter(prefix="/v1/models", tags=["models"])

DEFAULT_FORMAT = "tflite-int8"
CURRENT = "current"


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


def registry_for(request: Request) -> EdgeRegistry:
    return EdgeRegistry.beside(request.app.state.settings.model_dir)


def _resolve(request: Request, registry: EdgeRegistry, alias: str) -> str | None:
    if alias == CURRENT:
        version: str | None = _serving(request)
        return version if version and registry.formats(version) else None
    return registry.resolve(alias)


def _etag_matches(header: str | None, etag: str) -> bool:
    if not header:
        return False
    tags = [t.strip() for t in header.split(",")]
    return "*" in tags or etag in tags or f"W/{etag}" in tags


@router.get(
    "/edge",
    summary="List the edge bundles",
    description="Every registered model version with its aliases, formats, sizes, checksums "
    "and parity reports. Bundles appear here after `taste2vec export`.",
    responses=error_responses((503, "The edge registry could not be read.")),
)
async def list_edge(request: Request, principal: PrincipalDep) -> EdgeCatalogueOut:
    registry = registry_for(request)
    aliases = registry.aliases()
    serving = str(_serving(request) or "")
    versions = []
    for version in registry.versions():
        names = sorted(a for a, v in aliases.items() if v == version)
        if version == serving:
            names.append(CURRENT)
        bundles = [
            EdgeBundleInfo(
                format=fmt,
                size=int(info["size"]),
                sha256=str(info["sha256"]),
                created=str(info["created"]),
                parity=dict(info.get("parity") or {}),
            )
            for fmt, info in sorted(registry.formats(version).items())
        ]
        versions.append(EdgeVersionOut(model_version=version, aliases=names, bundles=bundles))
    return EdgeCatalogueOut(serving=serving, versions=versions)


@router.get(
    "/edge/{alias}",
    summary="Download an edge bundle",
    description="The bundle archive (zip, `.t2vb`) for a model alias (`latest`, `current`, "
    "an export alias) or a model version, in one format: `tflite`, `tflite-int8`, `onnx` or "
    "`onnx-int8`. Send the ETag back as `If-None-Match` to get 304 when nothing changed. "
    "Run it with `taste2vec.edge.runtime.EdgeRuntime` (see docs/edge.md).",
    response_class=FileResponse,
    responses={
        200: {"content": {"application/zip": {}}, "description": "The bundle archive."},
        304: {"description": "The bundle matches If-None-Match."},
        **error_responses(
            (404, "Unknown alias, unknown format, or no bundle of that format for it."),
            (503, "The edge registry could not be read."),
        ),
    },
)
async def get_edge(
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
    registry = registry_for(request)
    version = _resolve(request, registry, alias)
    if version is None:
        known = sorted({*registry.aliases(), *registry.versions()})
        hint = f"known: {', '.join(known)}" if known else "none yet; run: taste2vec export"
        raise HTTPException(404, f"no edge bundles for {alias!r} ({hint})")
    if fmt not in FORMATS:
        raise HTTPException(404, f"unknown edge format {fmt!r}; formats: {', '.join(FORMATS)}")
    entry = registry.entry(version, fmt)
    if entry is None:
        have = ", ".join(sorted(registry.formats(version))) or "none"
        raise HTTPException(
            404,
            f"model {version} has no {fmt} bundle (exported: {have}); run: "
            f"taste2vec export --format {fmt.removesuffix('-int8')}"
            + (" --int8" if fmt.endswith("-int8") else ""),
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
