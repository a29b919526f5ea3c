"""The training school's rules. Every function takes the acting user first, checks what they may do,
validates its input through the schemas and audits what it writes; REST and GraphQL only call these."""
from __future__ import annotations

from datetime import timedelta
from functools import partial

from sqlalchemy import and_, func, select, true

from trellis.plugin import (AUTOMATIC, Conflict, Customer, MetricQuery, MetricRow, NotFound, PageRequest, Role,
                            ValidationFailed, apply_changes, bucket_key, buckets, check_version, count_windows,
                            created_fields, customer_visibility, get_customer, grain_of, not_deleted, paginate,
                            parse_sort, parse_uuid, period_start, record_change, record_on_behalf, require_actor,
                            require_role, restore, seek_windows, session, setting, soft_delete, transition, utcnow,
                            validate, validate_update, visibility)
from trellis_training import schemas as s
from trellis_training.models import TrainingCourse, TrainingEnrolment

WORKFLOW = "training_enrolment.status"
COORDINATOR = "training_coordinator"
TAKEN = ("confirmed", "attended")   # the states that hold a place
COURSE_SORTABLE = {"starts_on": TrainingCourse.starts_on, "code": TrainingCourse.code}
ENROLMENT_SORTABLE = {"created_at": TrainingEnrolment.created_at, "status": TrainingEnrolment.status}


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


# --- the house rules, shared by courses and enrolments --------------------------------------------------

def _visible(model, actor, deleted=False):
    """Every read goes through the scopes (`visibility`) and leaves the soft-deleted out (or reads only them)."""
    return select(model).where(visibility(actor, model), not_deleted(model, deleted))


def _get(model, actor, record_id, *, deleted=False):
    stmt = _visible(model, actor, deleted).where(model.id == parse_uuid(record_id))
    if (row := session().scalars(stmt).first()) is None:   # out of scope reads as missing: ids cannot be probed
        raise NotFound(f"No {model.__tablename__.removeprefix('training_')} with this id.")
    return row


def _list(model, schema, sortable, default, actor, filters=None, *, page=PageRequest(), sort=None):
    values = validate(schema, dict(filters or {}))   # an unknown filter is a 422 naming it
    stmt = _visible(model, actor, values.pop("deleted"))
    if (day := values.pop("starts_after", None)) is not None:
        stmt = stmt.where(model.starts_on >= day)
    for key, value in values.items():
        stmt = stmt.where(getattr(model, key) == value)
    return paginate(stmt, page, parse_sort(sort, sortable, default), model.id)


def _create(user, row, fields):
    session().add(row)
    session().flush()
    record_change(user, "created", row, created_fields(row, fields))   # audit entry + outbox event
    return row


def _update(user, row, values):
    check_version(row, values.pop("version"))   # a client that read an older version gets a 409
    if changes := apply_changes(row, values):
        session().flush()
        record_change(user, "updated", row, changes)
    return row


def _delete(user, row):
    soft_delete(row)
    record_change(user, "deleted", row)


def _restore(user, row):
    restore(row)
    record_change(user, "restored", row)
    return row


# --- courses: everyone signed in reads them, the coordinator (or an admin) keeps them ------------------

get_course = partial(_get, TrainingCourse)
list_courses = partial(_list, TrainingCourse, s.CourseFilter, COURSE_SORTABLE, "starts_on")


def _unique_code(values, course=None):
    clash = select(TrainingCourse.id).where(TrainingCourse.code == values.get("code"))
    if session().scalar(clash if course is None else clash.where(TrainingCourse.id != course.id)):
        raise Conflict(fields={"code": ["Another course has this code (maybe a deleted one: restore it)."]})


def create_course(actor, data):
    user, values = require_coordinator(actor), validate(s.CourseCreate, data)
    _unique_code(values)
    return _create(user, TrainingCourse(**values), list(values))


def update_course(actor, course_id, data):
    user, values = require_coordinator(actor), validate_update(s.CourseUpdate, data)
    course = get_course(user, course_id)
    if "code" in values:
        _unique_code(values, course)
    return _update(user, course, values)


def delete_course(actor, course_id):
    user = require_coordinator(actor)
    _delete(user, get_course(user, course_id))


def restore_course(actor, course_id):
    user = require_coordinator(actor)
    return _restore(user, get_course(user, course_id, deleted=True))


def places_taken(course_ids) -> dict:
    """How many live enrolments hold a place in each course, in one grouped count."""
    rows = session().execute(select(TrainingEnrolment.course_id, func.count()).where(
        TrainingEnrolment.course_id.in_(course_ids), TrainingEnrolment.status.in_(TAKEN),
        TrainingEnrolment.deleted_at.is_(None)).group_by(TrainingEnrolment.course_id))
    return {cid: 0 for cid in course_ids} | dict(rows.all())


# --- enrolments: whoever sees the customer applies; the coordinator confirms ---------------------------

get_enrolment = partial(_get, TrainingEnrolment)
list_enrolments = partial(_list, TrainingEnrolment, s.EnrolmentFilter, ENROLMENT_SORTABLE, "-created_at")


def create_enrolment(actor, data):
    user, values = require_actor(actor), validate(s.EnrolmentCreate, data)
    for field, get in (("course_id", get_course), ("customer_id", get_customer)):
        try:
            get(user, values[field])   # a customer the user may not see is refused like a missing one
        except NotFound as missing:
            raise ValidationFailed(fields={field: [missing.message]}) from None
    if session().scalar(select(TrainingEnrolment.id).where(
            TrainingEnrolment.course_id == values["course_id"],
            TrainingEnrolment.customer_id == values["customer_id"],
            TrainingEnrolment.status != "cancelled", TrainingEnrolment.deleted_at.is_(None))):
        raise Conflict(fields={"customer_id": ["The customer is enrolled in this course already."]})
    return _create(user, TrainingEnrolment(status="applied", **values), list(values))


def update_enrolment(actor, enrolment_id, data):
    user, values = require_actor(actor), validate_update(s.EnrolmentUpdate, data)
    return _update(user, get_enrolment(user, enrolment_id), values)


def delete_enrolment(actor, enrolment_id):
    _delete(actor, get_enrolment(actor, enrolment_id))


def restore_enrolment(actor, enrolment_id):
    return _restore(actor, get_enrolment(actor, enrolment_id, deleted=True))


def move_enrolment(actor, enrolment_id, data):
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
    return seek_windows(session(), _visible(TrainingEnrolment, actor), TrainingEnrolment.customer_id,
                        customer_ids, request, order, TrainingEnrolment.id)


def enrolment_counts(actor, customer_ids) -> dict:
    return count_windows(session(), _visible(TrainingEnrolment, actor), TrainingEnrolment.customer_id,
                         customer_ids)


# --- metrics and the scheduled job --------------------------------------------------------------------

def enrolments_metric(query: MetricQuery) -> list[MetricRow]:
    """Enrolments made in the period that the caller sees; by status or by calendar period."""
    when = TrainingEnrolment.created_at
    stmt = _visible(TrainingEnrolment, query.actor).with_only_columns(func.count(TrainingEnrolment.id))
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
    stmt = (_visible(TrainingCourse, query.actor).with_only_columns(*columns)
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
