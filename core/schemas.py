"""Marshmallow schemas of the core records: the one definition of what valid input is.

Services validate raw input with these (``core.services.common.validate``); the REST layer documents
the same schemas in OpenAPI and serialises records with the output schemas; GraphQL inputs are turned
into plain dicts and validated by the same services. A rule about a field's shape lives here, once.
"""
from __future__ import annotations

from datetime import datetime, timezone

from marshmallow import EXCLUDE, RAISE, Schema, ValidationError, fields, pre_dump, validate, validates_schema

from core.models.enums import (
    CustomerKind,
    CustomerSize,
    CustomerSource,
    InteractionDirection,
    InteractionStatus,
    LifecycleStage,
    Role,
)

MAX_PAGE_SIZE = 100


class Money(fields.Decimal):
    """An amount of money: a ``Decimal`` field (the same JSON and OpenAPI as ``fields.Decimal``) that says
    it is money, so GraphQL types it with the ``Money`` scalar (api/graphql/money.py) rather than a plain
    decimal string. Amounts carry no currency: a deployment has one."""


def one_of(enum) -> validate.OneOf:
    """A marshmallow validator accepting the values of a ``StrEnum`` (``one_of(Role)``): the error names
    the allowed values."""
    return validate.OneOf([e.value for e in enum])


def not_blank(value: str) -> None:
    """A marshmallow validator refusing a string that is empty or only whitespace ("Must not be blank.")."""
    if not value.strip():
        raise ValidationError("Must not be blank.")


def in_utc_calendar(value) -> None:
    """An aware datetime must stay inside years 1–9999 once converted to UTC (``0001-01-01T00:00+14:00``
    parses, but is 31 December of year 0 in UTC, which neither Python nor a database can hold)."""
    if isinstance(value, datetime) and value.utcoffset():
        try:
            value.astimezone(timezone.utc)
        except OverflowError:
            raise ValidationError("Out of range: in UTC this falls outside the years 1–9999.") from None


class StrictSchema(Schema):
    """The base of every input schema: unknown fields are refused, and every datetime field accepts only
    instants that exist in UTC (a plugin's schema gets both by deriving from this one)."""

    class Meta:
        unknown = RAISE

    def on_bind_field(self, field_name: str, field_obj: fields.Field) -> None:
        if isinstance(field_obj, fields.DateTime) and in_utc_calendar not in field_obj.validators:
            field_obj.validators = [*field_obj.validators, in_utc_calendar]


class BoundedList(fields.List):
    """A list with at most ``max_items`` items, refused *before* any item is parsed.

    marshmallow 4 runs a field's ``validate=`` only after deserialising every item (and a list with a bad
    item fails on its items before its Length is looked at), so a 300,000-row batch under
    ``validate.Length(max=5000)`` was parsed row by row — 45 s and 700 MB — only to be refused. This
    field counts first. It also carries ``validate.Length`` so OpenAPI shows ``minItems``/``maxItems``.
    Every bulk input (POS batches, imports, scans, id lists) uses it; plugins import it from here.
    """

    def __init__(self, cls_or_instance, *, max_items: int, min_items: int = 0, **kwargs):
        self.max_items, self.min_items = max_items, min_items
        length = validate.Length(min=min_items or None, max=max_items)
        extra = kwargs.pop("validate", None)
        validators = [length] + (list(extra) if isinstance(extra, (list, tuple)) else [extra] if extra else [])
        super().__init__(cls_or_instance, validate=validators, **kwargs)

    def _deserialize(self, value, attr, data, **kwargs):
        if isinstance(value, (list, tuple)):
            if len(value) > self.max_items:
                raise ValidationError(f"At most {self.max_items} items; {len(value)} sent.")
            if len(value) < self.min_items:
                raise ValidationError(f"At least {self.min_items} item(s) required.")
        return super()._deserialize(value, attr, data, **kwargs)


# --- customers ---------------------------------------------------------------------------------------

class CustomerCreate(StrictSchema):
    kind = fields.String(load_default=CustomerKind.COMPANY.value, validate=one_of(CustomerKind))
    name = fields.String(required=True, validate=[validate.Length(min=1, max=200), not_blank])
    industry = fields.String(allow_none=True, validate=validate.Length(max=80))
    region = fields.String(allow_none=True, validate=validate.Length(max=80))
    size = fields.String(allow_none=True, validate=one_of(CustomerSize))
    source = fields.String(allow_none=True, validate=one_of(CustomerSource))
    stage = fields.String(validate=one_of(LifecycleStage),
                          metadata={"description": "Initial stage: one you could move a new customer to (an admin's "
                                                   "create is an import: any); later moves go through /stage."})
    notes = fields.String(validate=validate.Length(max=20000))
    tags = BoundedList(fields.String(validate=validate.Length(min=1, max=50)), max_items=50)
    owner_id = fields.UUID(allow_none=True)


class CustomerUpdate(CustomerCreate):
    class Meta:
        unknown = RAISE
        exclude = ("stage",)

    name = fields.String(validate=[validate.Length(min=1, max=200), not_blank])
    version = fields.Integer(required=True, metadata={"description": "The version you read; a stale one is 409."})


class CustomerFilter(StrictSchema):
    q = fields.String(validate=validate.Length(max=200), metadata={"description": "Name contains (case-insensitive)."})
    kind = fields.String(validate=one_of(CustomerKind))
    industry = fields.String(validate=validate.Length(max=80))
    region = fields.String(validate=validate.Length(max=80))
    source = fields.String(validate=one_of(CustomerSource))
    stage = fields.String(validate=one_of(LifecycleStage))
    level = fields.String(validate=validate.Length(max=20))
    tag = fields.String(validate=validate.Length(max=50))
    owner_id = fields.UUID()
    # customer analytics (docs/analytics.md), as of the last refresh
    segment = fields.UUID(metadata={"description": "k-means segment id (GET /api/v1/analytics/segments)."})
    value_tier = fields.String(validate=validate.OneOf(["key", "major", "regular", "small"]))
    rfm_segment = fields.String(validate=validate.Length(max=40))
    churn_risk = fields.Boolean(metadata={"description": "Flagged by the churn warning."})
    deleted = fields.Boolean(load_default=False, metadata={"description": "List deleted records instead."})


class DuplicateFilter(StrictSchema):
    """Which duplicate candidates to list (``GET /customers/duplicates``, GraphQL ``duplicateCustomers``)."""

    reason = fields.String(validate=validate.OneOf(["email", "phone", "name"]), metadata={
        "description": "Only pairs sharing this: a contact's e-mail, a contact's phone or mobile number, or the name."})
    customer_id = fields.UUID(metadata={"description": "Only pairs this customer is part of."})


class CustomerMerge(StrictSchema):
    """A merge of the customer ``merged_id`` into the customer of the path (the survivor)."""

    merged_id = fields.UUID(required=True, metadata={
        "description": "The duplicate to merge into this customer: it is hidden afterwards, reading as merged into it."})
    version = fields.Integer(metadata={"description": "The survivor's version as last read: a newer one is a 409."})
    merged_version = fields.Integer(metadata={
        "description": "The duplicate's version as last read: a newer one is a 409."})


class StageChange(StrictSchema):
    to = fields.String(required=True, validate=one_of(LifecycleStage))
    reason = fields.String(load_default="", validate=validate.Length(max=2000))


class LevelChange(StrictSchema):
    level = fields.String(required=True, validate=validate.Length(min=1, max=20))
    reason = fields.String(required=True, validate=validate.Length(min=1, max=2000))


class ApprovalDecision(StrictSchema):
    approve = fields.Boolean(required=True)
    note = fields.String(load_default="", validate=validate.Length(max=2000))


# --- contacts ----------------------------------------------------------------------------------------

class ContactCreate(StrictSchema):
    customer_id = fields.UUID(required=True)
    name = fields.String(required=True, validate=[validate.Length(min=1, max=120), not_blank])
    title = fields.String(validate=validate.Length(max=120))
    phone = fields.String(validate=validate.Length(max=40))
    mobile = fields.String(validate=validate.Length(max=40))
    email = fields.Email(validate=validate.Length(max=254))
    wechat = fields.String(validate=validate.Length(max=80))
    birthday = fields.Date(allow_none=True)
    notes = fields.String(validate=validate.Length(max=20000))
    is_primary = fields.Boolean()


class ContactUpdate(ContactCreate):
    customer_id = fields.UUID(dump_only=True)
    name = fields.String(validate=validate.Length(min=1, max=120))
    version = fields.Integer(required=True)


class ContactFilter(StrictSchema):
    customer_id = fields.UUID()
    q = fields.String(validate=validate.Length(max=120))
    deleted = fields.Boolean(load_default=False)


# --- interactions ------------------------------------------------------------------------------------

class InteractionCreate(StrictSchema):
    customer_id = fields.UUID(required=True)
    contact_id = fields.UUID(allow_none=True)
    kind = fields.String(required=True, validate=validate.Length(min=1, max=60),
                         metadata={"description": "A registered interaction kind (see GET /api/v1/labels)."})
    direction = fields.String(validate=one_of(InteractionDirection))
    status = fields.String(validate=one_of(InteractionStatus))
    subject = fields.String(validate=validate.Length(max=200))
    notes = fields.String(validate=validate.Length(max=20000))
    occurred_at = fields.AwareDateTime(allow_none=True, default_timezone=None)
    due_at = fields.AwareDateTime(allow_none=True)
    amount = Money(allow_none=True, places=2, validate=validate.Range(min=-10**11, max=10**11))
    assignee_id = fields.UUID(allow_none=True)
    reminder_at = fields.AwareDateTime(allow_none=True)
    outcome = fields.String(validate=validate.Length(max=20000))
    score = fields.Integer(allow_none=True, validate=validate.Range(min=0, max=10),
                           metadata={"description": "Survey score: CSAT 1–5 or NPS 0–10 (see score_scale)."})
    score_scale = fields.String(allow_none=True, validate=validate.OneOf(["csat", "nps"]))

    @validates_schema
    def _score_fits_its_scale(self, data, **_):
        score, scale = data.get("score"), data.get("score_scale")
        if (score is None) != (scale is None):
            raise ValidationError("Give score and score_scale together.", "score")
        if scale == "csat" and not 1 <= score <= 5:
            raise ValidationError("A CSAT score is 1–5.", "score")


class InteractionUpdate(InteractionCreate):
    customer_id = fields.UUID(dump_only=True)
    kind = fields.String(validate=validate.Length(min=1, max=60))
    version = fields.Integer(required=True)


class InteractionFilter(StrictSchema):
    customer_id = fields.UUID()
    kind = fields.String(validate=validate.Length(max=60))
    status = fields.String(validate=one_of(InteractionStatus))
    assignee_id = fields.UUID()
    mine = fields.Boolean(metadata={"description": "Only tasks assigned to you."})
    overdue = fields.Boolean(metadata={"description": "Only planned interactions past their due time."})
    due_before = fields.AwareDateTime()
    due_after = fields.AwareDateTime()
    deleted = fields.Boolean(load_default=False)


class TaskCompletion(StrictSchema):
    outcome = fields.String(load_default="", validate=validate.Length(max=20000))
    occurred_at = fields.AwareDateTime(allow_none=True)
    amount = Money(allow_none=True, places=2, validate=validate.Range(min=-10**11, max=10**11))


class TaskCancellation(StrictSchema):
    outcome = fields.String(required=True, validate=validate.Length(min=1, max=20000))


class Escalation(StrictSchema):
    note = fields.String(load_default="", validate=validate.Length(max=2000))


class Handover(StrictSchema):
    to_user_id = fields.UUID(required=True)
    customer_ids = BoundedList(fields.UUID(), min_items=1, max_items=10000)
    from_user_id = fields.UUID(metadata={"description": "Hand over every customer of this user."})
    reason = fields.String(required=True, validate=validate.Length(min=1, max=2000))


class AllocationRule(StrictSchema):
    industry = fields.String(validate=validate.Length(max=80))
    region = fields.String(validate=validate.Length(max=80))
    size = fields.String(validate=one_of(CustomerSize))
    rep_ids = BoundedList(fields.UUID(), required=True, min_items=1, max_items=1000)


class Allocation(StrictSchema):
    rules = BoundedList(fields.Nested(AllocationRule), load_default=list, max_items=200)
    rep_ids = BoundedList(fields.UUID(), max_items=1000, metadata={"description": "The pool for customers no rule matches "
                                                                  "(default: every rep you manage)."})
    dry_run = fields.Boolean(load_default=True)
    limit = fields.Integer(load_default=1000, validate=validate.Range(min=1, max=10000))


# --- users -------------------------------------------------------------------------------------------

class UserCreate(StrictSchema):
    email = fields.Email(required=True, validate=validate.Length(max=254))
    name = fields.String(validate=validate.Length(max=120))
    role = fields.String(load_default=Role.REP.value, validate=validate.Length(min=1, max=40))
    password = fields.String(allow_none=True, load_only=True, validate=validate.Length(min=8, max=200))
    team_id = fields.UUID(allow_none=True)
    locale = fields.String(validate=validate.OneOf(["en", "zh-CN"]))


class Login(StrictSchema):
    email = fields.String(required=True, validate=validate.Length(max=254))
    password = fields.String(required=True, load_only=True, validate=validate.Length(max=200))


# --- output ------------------------------------------------------------------------------------------

class RecordOut(Schema):
    """The base of a record's output schema (REST responses, GraphQL types made by `type_from_schema`):
    `id`, `created_at`, `updated_at`, `version` and `deleted_at`, each documented; add the record's own
    fields in a subclass."""

    class Meta:
        unknown = EXCLUDE
        ordered = True

    # REST documents these, and GraphQL types made from a schema (api.graphql.from_schema) show the same text
    id = fields.UUID(dump_only=True, metadata={"description": "The record's id (a UUID)."})
    created_at = fields.DateTime(dump_only=True, metadata={"description": "When the record was created (UTC, ISO 8601)."})
    updated_at = fields.DateTime(dump_only=True, metadata={
        "description": "When the record was last changed (UTC, ISO 8601)."})
    version = fields.Integer(dump_only=True, metadata={
        "description": "Raised on every change (optimistic concurrency): send the version you read with an update; "
                       "a stale one is refused as a conflict (REST 409, GraphQL CONFLICT)."})
    deleted_at = fields.DateTime(dump_only=True, allow_none=True, metadata={
        "description": "When the record was soft-deleted (UTC, ISO 8601); null while it is live."})

    def get_attribute(self, obj, attr, default):
        # a record is an object: one getattr. marshmallow's lookup tries a dotted path and item access first,
        # a third of the time a page of 100 took to serialise (issue #16); a mapping still goes that way
        if "." in attr or hasattr(obj, "__getitem__"):
            return super().get_attribute(obj, attr, default)
        return getattr(obj, attr, default)


class UserOut(Schema):
    id = fields.UUID()
    email = fields.String()
    name = fields.String()
    role = fields.String()
    team_id = fields.UUID(allow_none=True)
    locale = fields.String()


# --- the core's other lists (REST items; `trellis export` writes the same fields) ---------------------

class AuditEntryOut(Schema):
    id = fields.UUID()
    at = fields.DateTime()
    actor_id = fields.UUID(allow_none=True)
    action = fields.String()
    record_type = fields.String()
    record_id = fields.UUID()
    changes = fields.Dict()
    request_id = fields.String(allow_none=True, metadata={
        "description": "The X-Request-Id of the request (or the id of the job run) that made the change."})


#: a move in a record's workflow history (``GET …/history``, and the plugins' history exports)
class TransitionOut(Schema):
    id = fields.UUID()
    workflow = fields.String()
    from_state = fields.String(allow_none=True)
    to_state = fields.String()
    at = fields.DateTime()
    actor_id = fields.UUID(allow_none=True)
    approved_by_id = fields.UUID(allow_none=True)
    trigger = fields.String()
    trigger_event = fields.String(allow_none=True)
    reason = fields.String()
    seconds_in_previous = fields.Float(allow_none=True)


class ApprovalOut(Schema):
    id = fields.UUID()
    workflow = fields.String()
    record_type = fields.String()
    record_id = fields.UUID()
    to_state = fields.String()
    reason = fields.String()
    requested_by_id = fields.UUID()
    status = fields.String()
    decided_by_id = fields.UUID(allow_none=True)
    decided_at = fields.DateTime(allow_none=True)
    decision_note = fields.String()
    created_at = fields.DateTime()
    version = fields.Integer()


class NotificationOut(Schema):
    id = fields.UUID()
    kind = fields.String()
    title = fields.String()
    body = fields.String()
    record_type = fields.String(allow_none=True)
    record_id = fields.UUID(allow_none=True)
    data = fields.Dict()
    created_at = fields.DateTime()
    read_at = fields.DateTime(allow_none=True)


class UserDetailOut(UserOut):
    is_active = fields.Boolean()
    version = fields.Integer()
    created_at = fields.DateTime()


class SalesTeamOut(Schema):
    id = fields.UUID()
    name = fields.String()
    manager_id = fields.UUID(allow_none=True)
    version = fields.Integer()


# an API token as its list shows it: never the token itself nor its hash
class TokenOut(Schema):
    class Meta:
        ordered = True

    id = fields.UUID()
    user_id = fields.UUID()
    name = fields.String()
    prefix = fields.String(metadata={"description": "The token's first characters, to recognise it."})
    created_at = fields.DateTime()
    expires_at = fields.DateTime(allow_none=True, metadata={"description": "Null: until revoked."})
    last_used_at = fields.DateTime(allow_none=True, metadata={"description": "Updated at most once a minute."})
    revoked_at = fields.DateTime(allow_none=True)


# --- a customer's analytics (core.services.analytics.describe) -------------------------------------------

class AnalyticsFlag(Schema):
    flag = fields.String()
    reason = fields.String()


class AnalyticsPurchases(Schema):
    transactions = fields.Integer()
    first_purchase_at = fields.DateTime(allow_none=True)
    last_purchase_at = fields.DateTime(allow_none=True)
    lifetime_revenue = fields.Float(allow_none=True)


class AnalyticsRFM(Schema):
    recency_days = fields.Integer(allow_none=True)
    frequency = fields.Integer(allow_none=True)
    monetary = fields.Float(allow_none=True)
    r_score = fields.Integer(allow_none=True)
    f_score = fields.Integer(allow_none=True)
    m_score = fields.Integer(allow_none=True)
    score = fields.String(allow_none=True)
    segment = fields.String(allow_none=True)
    label_en = fields.String(allow_none=True)
    label_zh_cn = fields.String(allow_none=True)
    reason = fields.String(allow_none=True)


class AnalyticsTier(Schema):
    tier = fields.String(allow_none=True)
    label_en = fields.String(allow_none=True)
    label_zh_cn = fields.String(allow_none=True)
    revenue_share = fields.Float(allow_none=True)
    reason = fields.String(allow_none=True)


class AnalyticsSegmentRef(Schema):
    id = fields.UUID(allow_none=True)
    number = fields.Integer(allow_none=True)
    name = fields.String(allow_none=True)
    profile = fields.String(allow_none=True)
    profile_zh_cn = fields.String(allow_none=True)
    reason = fields.String(allow_none=True)


class AnalyticsCLV(Schema):
    seed = fields.Float(allow_none=True)
    seed_reason = fields.String(allow_none=True)
    model = fields.Float(allow_none=True)
    model_reason = fields.String(allow_none=True)
    p_alive = fields.Float(allow_none=True)
    expected_transactions = fields.Float(allow_none=True)
    expected_value = fields.Float(allow_none=True)


class AnalyticsChurn(Schema):
    at_risk = fields.Boolean()
    flags = fields.List(fields.Nested(AnalyticsFlag))
    since = fields.DateTime(allow_none=True)
    task_id = fields.UUID(allow_none=True)
    reason = fields.String(allow_none=True)


class AnalyticsSatisfaction(Schema):
    csat_answers = fields.Integer()
    csat_mean = fields.Float(allow_none=True)
    nps_answers = fields.Integer()
    nps_last = fields.Integer(allow_none=True)


class CustomerAnalyticsOut(Schema):
    customer_id = fields.UUID()
    computed_at = fields.DateTime(allow_none=True)
    run_id = fields.UUID(allow_none=True)
    purchases = fields.Nested(AnalyticsPurchases)
    rfm = fields.Nested(AnalyticsRFM)
    value_tier = fields.Nested(AnalyticsTier)
    segment = fields.Nested(AnalyticsSegmentRef)
    clv = fields.Nested(AnalyticsCLV)
    churn = fields.Nested(AnalyticsChurn)
    satisfaction = fields.Nested(AnalyticsSatisfaction)

class CustomerAnalyticsField(fields.Nested):
    """The customer's stored analytics, described with their reasons. Reads ``Customer.analytics``, which a
    list fills for every customer at once (``CustomerOut`` preloads it), so a page costs two statements."""

    def get_value(self, obj, attr, accessor=None, default=None):
        from core.services.analytics import describe  # the service imports these schemas

        row = obj.analytics
        return describe(obj.id, row, row.segment if row is not None else None)


class CustomerOut(RecordOut):
    #: left out of list items unless asked for with ``?expand=analytics`` (api.rest.crud.list_item_fields)
    expandable = ("analytics",)

    kind = fields.String()
    name = fields.String()
    industry = fields.String(allow_none=True)
    region = fields.String(allow_none=True)
    size = fields.String(allow_none=True)
    source = fields.String(allow_none=True)
    level = fields.String(metadata={"description": "The grade from `TRELLIS_LEVEL_RULES` (A, B, C …) or set by hand; "
                                                   "a new customer starts in the rules' default level (the last one, "
                                                   "`D` by default). `none` means no rule matched."})
    level_pinned = fields.Boolean()
    stage = fields.String()
    notes = fields.String()
    tags = fields.List(fields.String())
    owner_id = fields.UUID(allow_none=True)
    merged_into_id = fields.UUID(allow_none=True, metadata={
        "description": "Set when this customer was merged into another (a duplicate): follow it to the "
                       "customer that holds its contacts, timeline and records now. A merged customer is "
                       "left out of every list."})
    merged_at = fields.DateTime(allow_none=True, metadata={"description": "When it was merged; null when not."})
    analytics = CustomerAnalyticsField(CustomerAnalyticsOut, dump_only=True, metadata={
        "description": "RFM, value tier, segment, CLV, churn risk and satisfaction as of the last analytics "
                       "refresh; a null number comes with its reason."})

    @pre_dump(pass_collection=True)
    def _preload_analytics(self, data, many, **kwargs):
        if not many or "analytics" not in self.fields:
            return data
        data = list(data)  # a query result or a generator can be read once: keep what preload read
        preload_analytics(data)
        return data


def preload_analytics(customers: list) -> None:
    """Load the analytics of every customer about to be serialised in two statements (a schema that nests
    ``CustomerOut`` in a list calls it with the list's customers)."""
    from core.services.analytics import preload  # the service imports these schemas

    preload(customers)


class ContactOut(RecordOut):
    customer_id = fields.UUID()
    name = fields.String()
    title = fields.String()
    phone = fields.String()
    mobile = fields.String()
    email = fields.String()
    wechat = fields.String()
    birthday = fields.Date(allow_none=True)
    notes = fields.String()
    is_primary = fields.Boolean()


class InteractionOut(RecordOut):
    customer_id = fields.UUID()
    contact_id = fields.UUID(allow_none=True)
    kind = fields.String()
    direction = fields.String()
    status = fields.String()
    subject = fields.String()
    notes = fields.String()
    occurred_at = fields.DateTime(allow_none=True)
    due_at = fields.DateTime(allow_none=True)
    amount = Money(allow_none=True, as_string=True)
    assignee_id = fields.UUID(allow_none=True)
    created_by_id = fields.UUID(allow_none=True)
    source = fields.String()
    reminder_at = fields.DateTime(allow_none=True)
    outcome = fields.String()
    completed_at = fields.DateTime(allow_none=True)
    escalated_at = fields.DateTime(allow_none=True)
    escalation_count = fields.Integer()
    score = fields.Integer(allow_none=True)
    score_scale = fields.String(allow_none=True)
