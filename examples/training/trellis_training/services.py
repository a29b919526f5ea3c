"""The training school's rules. Courses and enrolments are declared once (`RecordSpec`): their schemas,
their CRUD service (scope, validation, versions, audit, soft delete) and their REST and GraphQL are made
from the models and the options here. What is the school's own is written out: who keeps courses, one
live enrolment per customer and course, the workflow's moves, the metrics and the job."""
from __future__ import annotations

from datetime import timedelta

from marshmallow import fields, validate
from sqlalchemy import and_, func, select, true

from trellis.plugin import (AUTOMATIC, Conflict, Customer, FieldSpec, FilterSpec, MetricQuery, MetricRow, RecordSpec,
                            Role, StrictSchema, ValidationFailed, bucket_key, buckets, customer_visibility, grain_of,
                            period_start, record_on_behalf, require_actor, require_role, session, setting,
                            transition, utcnow, validate as load)
from trellis_training.models import TrainingCourse, TrainingEnrolment

WORKFLOW = "training_enrolment.status"
COORDINATOR = "training_coordinator"
STATUSES = ("applied", "confirmed", "attended", "cancelled")
TAKEN = ("confirmed", "attended")   # the states that hold a place


def require_coordinator(actor):
    return require_role(actor, COORDINATOR, Role.ADMIN.value)   # 403 naming the roles otherwise


# --- who sees what (trellis_record_scopes) -----------------------------------------------------------

def enrolment_scope(actor):
    """The coordinator sees every enrolment; a rep or manager those of the customers they see."""
    if actor.role == COORDINATOR:
        return true()
    return TrainingEnrolment.customer_id.in_(select(Customer.id).where(customer_visibility(actor)))


def customer_scope(actor):
    """The coordinator also sees the customers enrolled in a course (added to the core's rule)."""
    if actor.role == COORDINATOR:
        return Customer.id.in_(select(TrainingEnrolment.customer_id).where(TrainingEnrolment.deleted_at.is_(None)))
    return None


# --- the records, declared once --------------------------------------------------------------------------

COURSES = RecordSpec(
    TrainingCourse, "TrainingCourse", noun="course", writers=require_coordinator,
    sortable=("starts_on", "code"), default_sort="starts_on",
    fields={"capacity": FieldSpec(validate=validate.Range(min=1, max=1000)),
            "price": FieldSpec(money=True, validate=validate.Range(min=0, max=10**9)),
            "starts_on": FieldSpec(filter={"starts_after": FilterSpec(
                "gte", "Only courses starting on or after this day.")})})


def one_live_enrolment(user, values):
    """A customer holds one enrolment per course, unless it was cancelled (a hook: before_create)."""
    if session().scalar(select(TrainingEnrolment.id).where(
            TrainingEnrolment.course_id == values["course_id"],
            TrainingEnrolment.customer_id == values["customer_id"],
            TrainingEnrolment.status != "cancelled", TrainingEnrolment.deleted_at.is_(None))):
        raise Conflict(fields={"customer_id": ["The customer is enrolled in this course already."]})


ENROLMENTS = RecordSpec(
    TrainingEnrolment, "TrainingEnrolment", noun="enrolment",
    sortable=("created_at", "status"), default_sort="-created_at",
    fields={"course_id": FieldSpec(create_only=True, filter=True),
            "customer_id": FieldSpec(create_only=True, filter=True),
            "status": FieldSpec(read_only=True, filter=True, choices=STATUSES, vocabulary=f"{WORKFLOW}.state",
                                description="Where the enrolment is: applied, confirmed, attended, cancelled."),
            "note": FieldSpec(validate=validate.Length(max=2000)),
            "attended_at": FieldSpec(read_only=True)},
    hooks={"before_create": one_live_enrolment})

create_course, create_enrolment = COURSES.create, ENROLMENTS.create


# --- the workflow ----------------------------------------------------------------------------------------

class TrainingMove(StrictSchema):
    to = fields.String(required=True, validate=validate.OneOf(STATUSES),
                       metadata={"description": "The status to move to."})
    reason = fields.String(load_default="", validate=validate.Length(max=500))


def places_taken(course_ids) -> dict:
    """How many live enrolments hold a place in each course, in one grouped count."""
    rows = session().execute(select(TrainingEnrolment.course_id, func.count()).where(
        TrainingEnrolment.course_id.in_(course_ids), TrainingEnrolment.status.in_(TAKEN),
        TrainingEnrolment.deleted_at.is_(None)).group_by(TrainingEnrolment.course_id))
    return {cid: 0 for cid in course_ids} | dict(rows.all())


def move_enrolment(actor, enrolment_id, data):
    """Move an enrolment through its workflow. Confirming and attending are the coordinator's; a full
    course refuses confirmation (422 on `to`); attending writes an entry on the customer's timeline."""
    values = load(TrainingMove, data)
    user = require_actor(actor) if values["to"] == "cancelled" else require_coordinator(actor)
    enrolment = ENROLMENTS.get(user, enrolment_id)
    # lock the course row: two coordinators confirming the last place at once must not both succeed
    course = session().scalars(select(TrainingCourse).where(TrainingCourse.id == enrolment.course_id)
                               .with_for_update()).one()
    if values["to"] == "confirmed" and places_taken([course.id])[course.id] >= course.capacity:
        raise ValidationFailed(f"{course.code} is full.", fields={
            "to": [f"The course {course.code} is full: all {course.capacity} places are taken."]})
    transition(user, WORKFLOW, enrolment, values["to"], reason=values["reason"], argument="to")
    if values["to"] == "attended":
        enrolment.attended_at = utcnow()
        record_on_behalf(user, {"customer_id": str(enrolment.customer_id), "kind": "training_attended",
                                "subject": f"Attended {course.code} {course.name}"}, source="training")
    return enrolment


# --- metrics and the scheduled job --------------------------------------------------------------------

def enrolments_metric(query: MetricQuery) -> list[MetricRow]:
    """Enrolments made in the period that the caller sees; by status or by calendar period."""
    when = TrainingEnrolment.created_at
    stmt = ENROLMENTS.visible(query.actor).with_only_columns(func.count(TrainingEnrolment.id))
    stmt = stmt.where(when >= query.start) if query.start else stmt
    stmt = stmt.where(when < query.end) if query.end else stmt
    if query.group_by == "status":
        rows = session().execute(stmt.add_columns(TrainingEnrolment.status).group_by(TrainingEnrolment.status))
        return [MetricRow(n, {"status": status}) for n, status in rows]
    if grain := grain_of(query.group_by):
        period = period_start(grain, when)
        counts = {bucket_key(p): n for n, p in session().execute(stmt.add_columns(period).group_by(period))}
        return [MetricRow(counts.get(key, 0), {"period": key}) for key in buckets(query, grain) or sorted(counts)]
    return [MetricRow(session().scalar(stmt) or 0)]


def fill_rate_metric(query: MetricQuery) -> list[MetricRow]:
    """The share of places taken, per course (`group_by=course`) or over every course starting in the
    period. A course's places are the course's to show, so every enrolment counts whoever asks."""
    taken = func.count(TrainingEnrolment.id)
    columns = (TrainingCourse.code, TrainingCourse.capacity, taken)
    stmt = (COURSES.visible(query.actor).with_only_columns(*columns)
            .outerjoin(TrainingEnrolment, and_(TrainingEnrolment.course_id == TrainingCourse.id,
                                               TrainingEnrolment.status.in_(TAKEN),
                                               TrainingEnrolment.deleted_at.is_(None)))
            .group_by(TrainingCourse.id, *columns[:2]).order_by(TrainingCourse.code))
    stmt = stmt.where(TrainingCourse.starts_on >= query.date_from) if query.date_from else stmt
    stmt = stmt.where(TrainingCourse.starts_on <= query.date_to) if query.date_to else stmt
    rows = session().execute(stmt).all()
    if query.group_by == "course":
        return [MetricRow(round(n / cap, 4), {"course": code}, {"taken": n, "capacity": cap})
                for code, cap, n in rows]
    places = sum(cap for _, cap, _ in rows)
    return [MetricRow(round(sum(n for *_, n in rows) / places, 4) if places else None)]


def expire_applications(now) -> str:
    """Cancel the applications still unconfirmed `training_grace_days` after their course started."""
    cutoff = (now - timedelta(days=setting("training_grace_days"))).date()
    stale = session().scalars(select(TrainingEnrolment).join(TrainingCourse).where(
        TrainingEnrolment.status == "applied", TrainingEnrolment.deleted_at.is_(None),
        TrainingCourse.starts_on < cutoff)).all()
    for enrolment in stale:
        transition(None, WORKFLOW, enrolment, "cancelled", trigger=AUTOMATIC,
                   reason="Not confirmed before the course started.")
    return f"{len(stale)} applications cancelled"
