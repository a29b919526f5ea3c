"""Closed vocabularies of the core. Values are stored as strings; labels live in ``core.labels``."""
from enum import StrEnum


class Role(StrEnum):
    """The core's roles: an admin sees everything, a manager their team's customers, a rep their own.
    Plugins add roles of their own (``trellis_roles``) that see what their scopes grant."""

    ADMIN = "admin"
    MANAGER = "manager"
    REP = "rep"


class CustomerKind(StrEnum):
    COMPANY = "company"
    PERSON = "person"


class CustomerSize(StrEnum):
    MICRO = "micro"
    SMALL = "small"
    MEDIUM = "medium"
    LARGE = "large"
    ENTERPRISE = "enterprise"


class CustomerSource(StrEnum):
    REFERRAL = "referral"
    EXHIBITION = "exhibition"
    WEB_SEARCH = "web_search"
    DIRECTORY = "directory"
    ASSOCIATION = "association"
    COLD_CALL = "cold_call"
    WALK_IN = "walk_in"
    ADVERTISING = "advertising"
    PARTNER = "partner"
    OTHER = "other"


class LifecycleStage(StrEnum):
    POTENTIAL = "potential"
    INTENT = "intent"
    FIRST_PURCHASE = "first_purchase"
    REPEAT = "repeat"
    LOST = "lost"


class InteractionDirection(StrEnum):
    INBOUND = "inbound"
    OUTBOUND = "outbound"
    INTERNAL = "internal"


class InteractionStatus(StrEnum):
    DONE = "done"
    PLANNED = "planned"
    CANCELLED = "cancelled"
