"""The core's records. Importing this package registers every core table on ``core.db.Base``."""
from core.models.analytics import AnalyticsRun, CustomerAnalytics, CustomerSegment
from core.models.audit import AuditEntry, OutboxEvent
from core.models.customers import Contact, Customer, CustomerTag
from core.models.name_grams import ContactNameGram, CustomerNameGram, NameGramPosition
from core.models.demo import DemoDataset
from core.models.enums import (
    CustomerKind,
    CustomerSize,
    CustomerSource,
    InteractionDirection,
    InteractionStatus,
    LifecycleStage,
    Role,
)
from core.models.exports import ExportJob
from core.models.imports import ImportRun
from core.models.interactions import Interaction
from core.models.metrics import MetricResult
from core.models.notifications import Notification
from core.models.privacy import ErasureJob
from core.models.users import ApiToken, Team, User
from core.models.webhooks import WebhookDelivery, WebhookSubscription
from core.models.workflow import ApprovalRequest, StagnationAlert, WorkflowTransitionEntry

__all__ = [
    "AnalyticsRun", "CustomerAnalytics", "CustomerSegment",
    "ApprovalRequest", "Notification", "StagnationAlert", "WorkflowTransitionEntry",
    "ApiToken", "AuditEntry", "ErasureJob", "ExportJob", "ImportRun", "OutboxEvent", "Contact", "ContactNameGram", "Customer", "CustomerNameGram", "NameGramPosition", "DemoDataset", "CustomerKind", "CustomerSize", "CustomerSource", "CustomerTag",
    "Interaction", "InteractionDirection", "MetricResult", "InteractionStatus", "LifecycleStage", "Role", "Team", "User",
    "WebhookDelivery", "WebhookSubscription",
]
