"""The training school's rules. Every function takes the acting user first, checks what they may do,
validates its input through the schemas and audits what it writes; REST and GraphQL only call these."""
from __future__ import annotations

from datetime import timedelta

from sqlalchemy import and_, func, select, true

from trellis.plugin import (AUTOMATIC, Conflict, Customer, MetricQuery, MetricRow, NotFound, PageRequest, Role,
                            ValidationFailed, apply_changes, bucket_key, buckets, check_version, count_windows, created_fields,
                            customer_visibility, get_customer, grain_of, not_deleted, paginate, parse_sort, parse_uuid,
                            period_start, record_change, record_on_behalf, require_actor, require_role, restore,
                            seek_windows, session, setting, soft_delete, transition, utcnow, validate,
                            validate_update, visibility)
from trellis_training import schemas as s
from trellis_training.models import TrainingCourse, TrainingEnrolment

WORKFLOW = "training_enrolment.status"
COORDINATOR = "training_coordinator"
TAKEN = ("confirmed", "attended")   # the states that hold a place
COURSE_SORTABLE = {"starts_on": TrainingCourse.starts_on, "code": TrainingCourse.code}
ENROLMENT_SORTABLE = {"created_at": TrainingEnrolment.created_at, "status": TrainingEnrolment.status}


def require_coordinator(actor):
    return require_role(actor, COORDINATOR, Role.ADMIN.value)


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


# --- courses -----------------------------------------------------------------------------------------

def _courses(actor, deleted=False):
    return select(TrainingCourse).where(visibility(actor, TrainingCourse), not_deleted(TrainingCourse, deleted))


def get_course(actor, course_id, *, deleted=False) -> TrainingCourse:
    stmt = _courses(actor, deleted).where(TrainingCourse.id == parse_uuid(course_id))
    if (course := session().scalars(stmt).first()) is None:
        raise NotFound("No course with this id.")
    return course


def list_courses(actor, filters=None, *, page=PageRequest(), sort=None):
    values = validate(s.CourseFilter, dict(filters or {}))
    stmt = _courses(actor, values.pop("deleted"))
    if "starts_after" in values:
        stmt = stmt.where(TrainingCourse.starts_on >= values["starts_after"])
    return paginate(stmt, page, parse_sort(sort, COURSE_SORTABLE, "starts_on"), TrainingCourse.id)


def _check_course(values, course=None):
    code = values.get("code")
    clash = select(TrainingCourse.id).where(TrainingCourse.code == code)
    if code is not None and session().scalar(clash if course is None else clash.where(TrainingCourse.id != course.id)):
        raise Conflict(fields={"code": ["Another course has this code (maybe a deleted one: restore it)."]})
    taken = places_taken([course.id])[course.id] if course is not None else 0
    if values.get("capacity", taken) < taken:
        raise ValidationFailed(fields={"capacity": [f"{taken} places are taken already."]})


def create_course(actor, data) -> TrainingCourse:
    user = require_coordinator(actor)
    values = validate(s.CourseCreate, data)
    _check_course(values)
    course = TrainingCourse(**values)
    session().add(course)
    session().flush()
    record_change(user, "created", course, created_fields(course, list(values)))
    return course


def update_course(actor, course_id, data) -> TrainingCourse:
    user = require_coordinator(actor)
    values = validate_update(s.CourseUpdate, data)
    course = get_course(user, course_id)
    check_version(course, values.pop("version"))   # a stale version is a 409
    _check_course(values, course)
    if changes := apply_changes(course, values):
        session().flush()
        record_change(user, "updated", course, changes)
    return course


def delete_course(actor, course_id) -> None:
    user = require_coordinator(actor)
    course = get_course(user, course_id)
    soft_delete(course)
    record_change(user, "deleted", course)


def restore_course(actor, course_id) -> TrainingCourse:
    user = require_coordinator(actor)
    course = get_course(user, course_id, deleted=True)
    restore(course)
    record_change(user, "restored", course)
    return course


def places_taken(course_ids) -> dict:
    """How many live enrolments hold a place in each course, in one grouped count."""
    out = {cid: 0 for cid in course_ids}
    rows = session().execute(select(TrainingEnrolment.course_id, func.count()).where(
        TrainingEnrolment.course_id.in_(course_ids), TrainingEnrolment.status.in_(TAKEN),
        TrainingEnrolment.deleted_at.is_(None)).group_by(TrainingEnrolment.course_id))
    out.update(dict(rows.all()))
    return out


# --- enrolments --------------------------------------------------------------------------------------

def _enrolments(actor, deleted=False):
    return select(TrainingEnrolment).where(visibility(actor, TrainingEnrolment),
                                           not_deleted(TrainingEnrolment, deleted))


def get_enrolment(actor, enrolment_id, *, deleted=False) -> TrainingEnrolment:
    stmt = _enrolments(actor, deleted).where(TrainingEnrolment.id == parse_uuid(enrolment_id))
    if (enrolment := session().scalars(stmt).first()) is None:
        raise NotFound("No enrolment with this id.")
    return enrolment


def list_enrolments(actor, filters=None, *, page=PageRequest(), sort=None):
    values = validate(s.EnrolmentFilter, dict(filters or {}))
    stmt = _enrolments(actor, values.pop("deleted"))
    for key, value in values.items():
        stmt = stmt.where(getattr(TrainingEnrolment, key) == value)
    return paginate(stmt, page, parse_sort(sort, ENROLMENT_SORTABLE, "-created_at"), TrainingEnrolment.id)


def create_enrolment(actor, data) -> TrainingEnrolment:
    """A rep (or anyone who sees the customer) applies for a place; the enrolment starts at `applied`."""
    user = require_actor(actor)
    values = validate(s.EnrolmentCreate, data)
    try:
        course = get_course(user, values["course_id"])
        customer = get_customer(user, values["customer_id"])
    except NotFound as missing:
        field = "course_id" if "course" in missing.message else "customer_id"
        raise ValidationFailed(fields={field: [missing.message]}) from None
    if session().scalar(select(TrainingEnrolment.id).where(
            TrainingEnrolment.course_id == course.id, TrainingEnrolment.customer_id == customer.id,
            TrainingEnrolment.status != "cancelled", TrainingEnrolment.deleted_at.is_(None))):
        raise Conflict(fields={"customer_id": ["The customer is enrolled in this course already."]})
    enrolment = TrainingEnrolment(course_id=course.id, customer_id=customer.id, note=values["note"], status="applied")
    session().add(enrolment)
    session().flush()
    record_change(user, "created", enrolment, created_fields(enrolment, ["course_id", "customer_id", "note"]))
    return enrolment


def update_enrolment(actor, enrolment_id, data) -> TrainingEnrolment:
    user = require_actor(actor)
    values = validate_update(s.EnrolmentUpdate, data)
    enrolment = get_enrolment(user, enrolment_id)
    check_version(enrolment, values.pop("version"))
    if changes := apply_changes(enrolment, values):
        session().flush()
        record_change(user, "updated", enrolment, changes)
    return enrolment


def delete_enrolment(actor, enrolment_id) -> None:
    enrolment = get_enrolment(actor, enrolment_id)
    soft_delete(enrolment)
    record_change(actor, "deleted", enrolment)


def restore_enrolment(actor, enrolment_id) -> TrainingEnrolment:
    enrolment = get_enrolment(actor, enrolment_id, deleted=True)
    restore(enrolment)
    record_change(actor, "restored", enrolment)
    return enrolment


def move_enrolment(actor, enrolment_id, data) -> TrainingEnrolment:
    """Move an enrolment through its workflow. Confirming and attending are the coordinator's; a full
    course refuses confirmation (422 on `to`); attending writes an entry on the customer's timeline."""
    values = validate(s.Move, data)
    user = require_actor(actor) if values["to"] == "cancelled" else require_coordinator(actor)
    enrolment = get_enrolment(user, enrolment_id)
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


def enrolment_pages(actor, customer_ids, request, sort=None) -> dict:
    """A page of each customer's visible enrolments, for many customers in one statement."""
    order = parse_sort(sort, ENROLMENT_SORTABLE, "-created_at")
    return seek_windows(session(), _enrolments(actor), TrainingEnrolment.customer_id, customer_ids, request,
                        order, TrainingEnrolment.id)


def enrolment_counts(actor, customer_ids) -> dict:
    return count_windows(session(), _enrolments(actor), TrainingEnrolment.customer_id, customer_ids)


# --- metrics and the scheduled job --------------------------------------------------------------------

def enrolments_metric(query: MetricQuery) -> list[MetricRow]:
    """Enrolments made in the period that the caller sees; by status or by calendar period."""
    when = TrainingEnrolment.created_at
    stmt = _enrolments(query.actor).with_only_columns(func.count(TrainingEnrolment.id))
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
    stmt = (_courses(query.actor).with_only_columns(TrainingCourse.code, TrainingCourse.capacity, taken)
            .outerjoin(TrainingEnrolment, and_(TrainingEnrolment.course_id == TrainingCourse.id,
                                               TrainingEnrolment.status.in_(TAKEN),
                                               TrainingEnrolment.deleted_at.is_(None)))
            .group_by(TrainingCourse.id, TrainingCourse.code, TrainingCourse.capacity).order_by(TrainingCourse.code))
    stmt = stmt.where(TrainingCourse.starts_on >= query.date_from) if query.date_from else stmt
    stmt = stmt.where(TrainingCourse.starts_on <= query.date_to) if query.date_to else stmt
    rows = session().execute(stmt).all()
    if query.group_by == "course":
        return [MetricRow(round(n / cap, 4), {"course": code}, {"taken": n, "capacity": cap}) for code, cap, n in rows]
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
