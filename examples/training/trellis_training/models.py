"""The training school's records: courses and the enrolments of customers into them."""
from __future__ import annotations

import datetime
import uuid
from decimal import Decimal

from sqlalchemy import Date, ForeignKey, Integer, Numeric, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from trellis.plugin import Base, Record, UTCDateTime


class TrainingCourse(Base, Record):
    """A course the school runs: its code, name, capacity, price and first day."""

    __tablename__ = "training_course"   # tables start with the plugin's name

    code: Mapped[str] = mapped_column(String(20), unique=True, doc="The course's code (TR-101), unique.")
    name: Mapped[str] = mapped_column(String(200), doc="What the course is called.")
    capacity: Mapped[int] = mapped_column(Integer, doc="How many places the course has.")
    price: Mapped[Decimal] = mapped_column(Numeric(12, 2), doc="What a place costs (a decimal string).")
    starts_on: Mapped[datetime.date] = mapped_column(Date, index=True, doc="The course's first day (ISO 8601).")


class TrainingEnrolment(Base, Record):
    """A customer's enrolment in a course, moved applied → confirmed → attended (or cancelled)."""

    __tablename__ = "training_enrolment"

    course_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("training_course.id"), index=True)
    customer_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("customer.id", ondelete="CASCADE"), index=True)
    status: Mapped[str] = mapped_column(String(20), default="applied", index=True)
    note: Mapped[str] = mapped_column(Text, default="", doc="What the school noted about the applicant.")
    attended_at: Mapped[datetime.datetime | None] = mapped_column(
        UTCDateTime, nullable=True, doc="When the customer attended (UTC, ISO 8601); null until then.")
