"""GraphQL for queued exports: ``exportList`` queues the export of a list for the worker, as
``POST /api/v1/exports/<type>/jobs`` does, and answers an ``ExportJob`` that ``node(id:)`` follows until it
is DONE; its ``downloadUrl`` is the REST address of the file (a file is not GraphQL's to carry). Resolvers
only translate: every check is in ``core.services.export_jobs``, as for REST."""
# no `from __future__ import annotations`: the type classes use registry.ref() in their annotations

import datetime as dt
from typing import Annotated, Optional

import strawberry
from strawberry.scalars import JSON

from api.graphql.inputs import json_field, snake_case
from api.graphql.nodes import NodeSource
from core.models import ExportJob as ExportJobModel
from core.services import export_jobs


def types(registry) -> None:
    status_enum = registry.vocabulary_enum("export_job_status")   # a name, not a string in the annotation

    @registry.type("ExportJob", node=NodeSource(ExportJobModel, visible=export_jobs.visible_jobs))
    class ExportJob:
        """A list's export queued for the worker (`exportList`): read by id with `node(id:)` (the user who
        asked, or an admin) until its status is DONE, then download `downloadUrl` (docs/import-export.md)."""

        id: strawberry.ID
        record_type: str = strawberry.field(description=(
            "The export type: customers, contacts, interactions or a plugin's (REST GET /exports lists them)."))
        format: str = strawberry.field(description="csv, xlsx or jsonl.")
        filters = json_field("filters", description="The list's filters, by name (camelCase), as given.")
        status: status_enum = strawberry.field(description=(
            "QUEUED (waiting for the worker; after a failed attempt `message` says what failed), RUNNING, DONE "
            "(download `downloadUrl` until `expiresAt`), FAILED with the error in `message`, or EXPIRED (the file "
            "was removed)."))
        rows: int = strawberry.field(description="Rows written, once done.")
        size_bytes: float = strawberry.field(description=(
            "The file's size in bytes, once done (a Float: a file may pass the 2 GiB of a GraphQL Int)."))
        message: str = strawberry.field(description="Why it failed; empty otherwise.")
        request_id: Optional[str] = strawberry.field(description=(
            "The id (X-Request-Id) of the request that queued the export."))
        created_at: dt.datetime = strawberry.field(description="When it was asked for (UTC, ISO 8601).")
        started_at: Optional[dt.datetime] = strawberry.field(description="When the worker started it.")
        finished_at: Optional[dt.datetime] = strawberry.field(description="When it was done or failed.")
        expires_at: Optional[dt.datetime] = strawberry.field(description=(
            "When the file is removed (TRELLIS_EXPORT_RETENTION_HOURS after it was written); null until done."))

        @strawberry.field(description=(
            "Where to download the file (REST GET, with the same credentials) once DONE; null before and "
            "once EXPIRED."))
        def download_url(self) -> Optional[str]:
            from api.rest.exports import download_url

            return download_url(self)


def mutation_fields(registry) -> dict:
    export_job = registry.ref("ExportJob")

    def export_list(info: strawberry.Info,
                    record_type: Annotated[str, strawberry.argument(description=(
                        "The export type: customers, contacts, interactions or a plugin's."))],
                    format: Annotated[str, strawberry.argument(description="csv, xlsx or jsonl.")] = "csv",
                    filters: Annotated[Optional[JSON], strawberry.argument(description=(
                        "The list's filters as its REST GET takes them, by name (camelCase or snake_case: "
                        "`{region: \"East\", ownerId: \"…\"}`); an unknown or bad one is BAD_USER_INPUT naming "
                        "it, and nothing is queued."))] = None,
                    ) -> export_job:
        given = {snake_case(str(k)): v for k, v in filters.items()} if isinstance(filters, dict) else filters
        return export_jobs.queue_export(info.context.user, record_type, given, format)

    return {"export_list": strawberry.mutation(resolver=export_list, description=(
        "Export a list you see, with its filters, as CSV, XLSX or JSON Lines in the columns `trellis import` "
        "reads: queued for the worker, which writes it as you with your scope; follow the job with "
        "`node(id:)` and download `downloadUrl` once DONE (REST `POST /exports/{type}/jobs`)."))}
