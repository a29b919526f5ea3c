"""Import runs (``trellis import`` and ``POST /api/v1/imports``): one row per file imported, saying how far
it got, so an interrupted import continues where it stopped and a background job reports its status."""
from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import JSON, Boolean, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from core.db import Base, Timestamps, UTCDateTime, UUIDPrimaryKey


class ImportRun(Base, UUIDPrimaryKey, Timestamps):
    """An import of one file into one record type. ``rows_done`` counts the data rows committed (or, in a
    dry run, checked) so far, in file order: a rerun of the same file and mapping continues after them."""

    __tablename__ = "import_run"

    #: the import type: ``customers``, ``contacts``, ``interactions`` or a plugin's (``retail_membership.members``)
    record_type: Mapped[str] = mapped_column(String(100))
    file_name: Mapped[str] = mapped_column(String(255), default="")
    #: SHA-256 of the file's bytes and of the mapping: what makes a rerun "the same file"
    file_hash: Mapped[str] = mapped_column(String(64))
    format: Mapped[str] = mapped_column(String(10))
    #: column in the file → field of the record type (empty: the headers are the field names)
    mapping: Mapped[dict] = mapped_column(JSON, default=dict)
    dry_run: Mapped[bool] = mapped_column(Boolean, default=False)
    #: ``pending`` (queued for the worker), ``running``, ``done``, ``failed`` or ``interrupted``
    status: Mapped[str] = mapped_column(String(20), default="pending")
    rows_done: Mapped[int] = mapped_column(Integer, default=0)
    created_count: Mapped[int] = mapped_column(Integer, default=0)
    updated_count: Mapped[int] = mapped_column(Integer, default=0)
    unchanged_count: Mapped[int] = mapped_column(Integer, default=0)
    error_count: Mapped[int] = mapped_column(Integer, default=0)
    #: the first per-row errors: ``[{"row", "column", "reason"}]`` (at most ``MAX_STORED_ERRORS``)
    errors: Mapped[list] = mapped_column(JSON, default=list)
    #: why the run failed (a file that cannot be read, a database error)
    message: Mapped[str] = mapped_column(Text, default="")
    #: where the uploaded file waits for the worker (REST imports); empty for the CLI
    stored_path: Mapped[str] = mapped_column(String(500), default="")
    actor_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("user_account.id", ondelete="SET NULL"),
                                                       nullable=True)
    #: the request that queued the run (``X-Request-Id``): what the worker writes for it carries this id
    request_id: Mapped[str | None] = mapped_column(String(128), nullable=True)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)

    __table_args__ = (Index("ix_import_run_file", "file_hash", "record_type"),
                      Index("ix_import_run_status", "status"))
