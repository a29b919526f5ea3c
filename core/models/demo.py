"""Which demo data sets are in the database: the core's and each plugin's, loaded once each."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from core.db import Base, UTCDateTime, utcnow


class DemoDataset(Base):
    __tablename__ = "demo_dataset"

    #: ``core``, a plugin's name, or ``*`` (a demo loaded before sets were recorded one by one: every
    #: plugin enabled then is taken as loaded)
    name: Mapped[str] = mapped_column(String(100), primary_key=True)
    loaded_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
