"""The coffee catalogue: read for everyone, write for the admin, bulk CSV import."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, Body, HTTPException, Query

from taste2vec.api.deps import AdminDep, CoffeeIdPath, PrincipalDep, ServiceDep
from taste2vec.api.schemas import ImportResult, error_responses
from taste2vec.api.strict import json_types_of
from taste2vec.data.generic_csv import read_catalogue_csv
from taste2vec.errors import SchemaError
from taste2vec.schema import Coffee

router = APIRouter(prefix="/v1/coffees", tags=["coffees"])


@router.get("", summary="List the catalogue")
def list_coffees(
    service: ServiceDep,
    _: PrincipalDep,
    offset: Annotated[int, Query(ge=0, le=10_000_000)] = 0,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> list[Coffee]:
    return service.store.list_coffees(offset=offset, limit=limit)


@router.get(
    "/{coffee_id}",
    summary="One coffee",
    responses=error_responses((404, "No coffee with this id.")),
)
def get_coffee(coffee_id: CoffeeIdPath, service: ServiceDep, _: PrincipalDep) -> Coffee:
    coffee = service.store.get_coffee(coffee_id)
    if coffee is None:
        raise HTTPException(404, f"no coffee {coffee_id!r}")
    return coffee


@router.put(
    "/{coffee_id}",
    summary="Create or replace a coffee (admin)",
    description="Idempotent: always 200, and the counts say what happened (`inserted`, "
    "`updated`, or `unchanged` for an exact repeat). The body's `id` must be the path's "
    "id; a body for another coffee answers 409 (the representation conflicts with the "
    "target resource). The recommendations use the new catalogue within seconds.",
    responses=error_responses(
        (403, "This needs the admin key."),
        (409, "The body's id differs from the path's id."),
    ),
)
def put_coffee(
    coffee_id: CoffeeIdPath,
    coffee: Annotated[Coffee, json_types_of(Coffee)],
    service: ServiceDep,
    _: AdminDep,
) -> ImportResult:
    if coffee.id != coffee_id:
        raise HTTPException(409, f"body id {coffee.id!r} differs from path id {coffee_id!r}")
    counts = service.import_coffees([coffee])
    return ImportResult(
        inserted=counts.inserted, updated=counts.updated, unchanged=counts.unchanged
    )


@router.delete(
    "/{coffee_id}",
    status_code=204,
    summary="Delete a coffee (admin)",
    description="204 once deleted; 404 when there is no such coffee (so a repeated "
    "delete answers 404).",
    responses=error_responses(
        (403, "This needs the admin key."),
        (404, "No coffee with this id."),
    ),
)
def delete_coffee(coffee_id: CoffeeIdPath, service: ServiceDep, _: AdminDep) -> None:
    service.delete_coffee(coffee_id)


@router.post(
    "/import",
    summary="Bulk import the generic catalogue CSV (admin)",
    description="Body: the CSV text (see docs/data-formats.md). All rows are validated "
    "first; one bad row rejects the whole file with every error listed (422). Idempotent: "
    "always 200, and the counts say what happened; importing the same file again "
    "counts every row as `unchanged`.",
    responses=error_responses(
        (403, "This needs the admin key."),
        (
            422,
            "The CSV does not follow docs/data-formats.md (empty, unknown or missing "
            "columns, duplicate ids, a value out of range...): `errors` lists each bad cell "
            "as `row N: column`.",
        ),
    ),
)
def import_csv(
    service: ServiceDep,
    _: AdminDep,
    csv_text: Annotated[
        str,
        Body(
            media_type="text/csv",
            min_length=1,
            description="The catalogue CSV: a header row, then one coffee per row.",
        ),
    ],
) -> ImportResult:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "catalogue.csv"
        path.write_text(csv_text, encoding="utf-8")
        try:
            coffees = read_catalogue_csv(path)
        except SchemaError as exc:  # the same problems, without the temporary file's name
            raise SchemaError(str(exc).replace(f"{path}: ", ""), exc.errors) from None
    counts = service.import_coffees(coffees)
    return ImportResult(
        inserted=counts.inserted, updated=counts.updated, unchanged=counts.unchanged
    )
