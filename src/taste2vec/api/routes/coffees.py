"""The coffee catalogue: read for everyone, write for the admin, bulk CSV import."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, Body, HTTPException, Query

from taste2vec.api.deps import AdminDep, PrincipalDep, ServiceDep
from taste2vec.api.schemas import ImportResult
from taste2vec.data.generic_csv import read_catalogue_csv
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


@router.get("/{coffee_id}", summary="One coffee")
def get_coffee(coffee_id: str, service: ServiceDep, _: PrincipalDep) -> Coffee:
    coffee = service.store.get_coffee(coffee_id)
    if coffee is None:
        raise HTTPException(404, f"no coffee {coffee_id!r}")
    return coffee


@router.put("/{coffee_id}", summary="Create or replace a coffee (admin)")
def put_coffee(coffee_id: str, coffee: Coffee, service: ServiceDep, _: AdminDep) -> ImportResult:
    if coffee.id != coffee_id:
        raise HTTPException(422, f"body id {coffee.id!r} differs from path id {coffee_id!r}")
    counts = service.import_coffees([coffee])
    return ImportResult(
        inserted=counts.inserted, updated=counts.updated, unchanged=counts.unchanged
    )


@router.delete("/{coffee_id}", status_code=204, summary="Delete a coffee (admin)")
def delete_coffee(coffee_id: str, service: ServiceDep, _: AdminDep) -> None:
    service.delete_coffee(coffee_id)


@router.post(
    "/import",
    summary="Bulk import the generic catalogue CSV (admin)",
    description="Body: the CSV text (see docs/data-formats.md). All rows are validated "
    "first; one bad row rejects the whole file with every error listed.",
)
def import_csv(
    service: ServiceDep,
    _: AdminDep,
    csv_text: Annotated[str, Body(media_type="text/csv")],
) -> ImportResult:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "catalogue.csv"
        path.write_text(csv_text, encoding="utf-8")
        coffees = read_catalogue_csv(path)
    counts = service.import_coffees(coffees)
    return ImportResult(
        inserted=counts.inserted, updated=counts.updated, unchanged=counts.unchanged
    )
