"""Exports asked for as queued jobs (``POST /api/v1/exports/<type>/jobs``, GraphQL ``exportList``): one row
per request, saying how far the worker got and, once done, which file it wrote and until when it is kept."""
from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from core.db import Base, Timestamps, UTCDateTime, UUIDPrimaryKey


class ExportJob(Base, UUIDPrimaryKey, Timestamps):
    """A queued export of one list: the type, the format and the list's filters as the requester gave
    them; the worker writes the file as that user, with their scope at run time."""

    __tablename__ = "export_job"

    #: the export type: ``customers``, ``contacts``, ``interactions`` or a plugin's
    record_type: Mapped[str] = mapped_column(String(100))
    #: ``csv``, ``xlsx`` or ``jsonl``
    format: Mapped[str] = mapped_column(String(10))
    #: the list's filters, by name, as the list's GET takes them (``{"stage": "intent"}``)
    filters: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    #: ``queued`` (waiting for the worker; after a failed attempt ``message`` says what failed), ``running``,
    #: ``done`` (the file can be downloaded until ``expires_at``), ``failed`` (``message`` says why) or
    #: ``expired`` (the file was removed after ``TRELLIS_EXPORT_RETENTION_HOURS``; the row stays)
    status: Mapped[str] = mapped_column(String(20), default="queued")
    #: rows written and the file's size in bytes, once done
    rows: Mapped[int] = mapped_column(Integer, default=0)
    size_bytes: Mapped[int] = mapped_column(BigInteger, default=0)
    message: Mapped[str] = mapped_column(Text, default="")
    #: the file's name in the export directory (``TRELLIS_EXPORT_PATH``) once done; never shown to clients
    file: Mapped[str] = mapped_column(String(255), default="")
    #: who asked: only they (and admins) read the job and its file
    requested_by_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("user_account.id", ondelete="SET NULL"),
                                                               nullable=True)
    #: the request that queued the export (``X-Request-Id``)
    request_id: Mapped[str | None] = mapped_column(String(128), nullable=True)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    #: when the file is removed (set once done)
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)

    __table_args__ = (Index("ix_export_job_status", "status"),
                      Index("ix_export_job_requested_by_id", "requested_by_id"))
