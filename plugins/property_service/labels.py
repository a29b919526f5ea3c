"""Property service (物业服务): vocabularies with en and zh-CN labels, and the plugin's roles."""
from __future__ import annotations

from core.labels import Choice

CENTRE = "property_centre"
STAFF = "property_staff"

ROLES = [
    Choice(CENTRE, "Customer-service centre", "客户服务中心"),
    Choice(STAFF, "Service staff", "服务人员"),
]

KINDS = [
    Choice("repair", "Repair", "报修"),
    Choice("complaint", "Complaint", "投诉"),
    Choice("consultation", "Consultation", "咨询"),
    Choice("suggestion", "Written suggestion", "书面建议"),
]

CHANNELS = [
    Choice("phone", "Phone", "电话"),
    Choice("in_person", "In person", "来访"),
    Choice("web", "Web", "网站"),
    Choice("app", "App", "应用"),
    Choice("open311", "Open311", "Open311 接口"),
    Choice("written", "In writing", "书面"),
]

PRIORITIES = [
    Choice("urgent", "Urgent", "紧急"),
    Choice("high", "High", "高"),
    Choice("normal", "Normal", "普通"),
    Choice("low", "Low", "低"),
]

RELATIONS = [
    Choice("owner", "Owner", "业主"),
    Choice("tenant", "Tenant", "租户"),
    Choice("family", "Family member", "家属"),
]

TEAM_CODES = [
    Choice("engineering", "Engineering", "工程组"),
    Choice("environment", "Environment", "环境组"),
    Choice("security", "Security", "护卫组"),
    Choice("administration", "Administration", "行政组"),
]

SLA_STATES = [
    Choice("on_time", "On time", "按时"),
    Choice("at_risk", "At risk", "即将超时"),
    Choice("breached", "Breached", "已超时"),
]

LABELS = {
    "notification_kind": [
        Choice("property_service.dispatched", "Service request dispatched", "服务申请已派单"),
        Choice("property_service.escalated", "Service request escalated", "服务申请已升级"),
        Choice("property_service.low_rating", "Low rating", "低分评价"),
        Choice("property_service.sla_at_risk", "SLA at risk", "时限将超"),
    ],
    "property_service_kind": KINDS,
    "property_service_channel": CHANNELS,
    "property_service_priority": PRIORITIES,
    "property_service_relation": RELATIONS,
    "property_service_team": TEAM_CODES,
    "property_service_sla_state": SLA_STATES,
}

INTERACTION_KINDS = [
    Choice("property_service_request", "Service request", "服务申请"),
    Choice("property_service_feedback", "Service feedback", "服务评价"),
    Choice("property_service_follow_up", "Service follow-up", "服务回访"),
]


def values(choices) -> list[str]:
    return [c.value for c in choices]
