"""Input validation (the services load every input through these) and REST output, one declaration each:
GraphQL's types and inputs are made from the same classes."""
from __future__ import annotations

from marshmallow import fields, validate

from trellis.plugin import Money, RecordOut, StrictSchema, not_blank

STATUSES = ("applied", "confirmed", "attended", "cancelled")


class CourseCreate(StrictSchema):
    """A course the school runs."""

    code = fields.String(required=True, validate=[not_blank, validate.Length(max=20)])
    name = fields.String(required=True, validate=[not_blank, validate.Length(max=200)])
    capacity = fields.Integer(required=True, validate=validate.Range(min=1, max=1000))
    price = Money(required=True, places=2, validate=validate.Range(min=0, max=10**9))
    starts_on = fields.Date(required=True)


class CourseUpdate(CourseCreate):
    version = fields.Integer(required=True, metadata={"description": "The version you read; a stale one is 409."})


class CourseFilter(StrictSchema):
    starts_after = fields.Date(metadata={"description": "Only courses starting on or after this day."})
    deleted = fields.Boolean(load_default=False)


class CourseOut(RecordOut):
    """A course the school runs: its code, name, capacity, price and first day."""

    code = fields.String()
    name = fields.String()
    capacity = fields.Integer()
    price = Money(places=2)
    starts_on = fields.Date()


class EnrolmentCreate(StrictSchema):
    course_id = fields.UUID(required=True)
    customer_id = fields.UUID(required=True)
    note = fields.String(load_default="", validate=validate.Length(max=2000))


class EnrolmentUpdate(StrictSchema):
    version = fields.Integer(required=True, metadata={"description": "The version you read; a stale one is 409."})
    note = fields.String(validate=validate.Length(max=2000))


class EnrolmentFilter(StrictSchema):
    course_id = fields.UUID()
    customer_id = fields.UUID()
    status = fields.String(validate=validate.OneOf(STATUSES))
    deleted = fields.Boolean(load_default=False)


class EnrolmentOut(RecordOut):
    """A customer's enrolment in a course, moved applied → confirmed → attended (or cancelled)."""

    course_id = fields.UUID()
    customer_id = fields.UUID()
    status = fields.String(metadata={"description": "Where the enrolment is: applied, confirmed, attended, cancelled."})
    note = fields.String()
    attended_at = fields.DateTime(allow_none=True)


class Move(StrictSchema):
    to = fields.String(required=True, validate=validate.OneOf(STATUSES),
                       metadata={"description": "The status to move to."})
    reason = fields.String(load_default="", validate=validate.Length(max=500))
