"""Exhibitions (会展): the plugin's vocabularies with en and zh-CN labels, roles and timeline kinds."""
from __future__ import annotations

from core.labels import Choice

ORGANISER = "organiser"
EXHIBITOR = "exhibitor"

ROLES = [
    Choice(ORGANISER, "Organiser staff", "主办方工作人员"),
    Choice(EXHIBITOR, "Exhibitor user", "展商用户"),
]

# timeline entries written to core customers (interaction kinds are global: prefixed)
KIND_REGISTRATION = "exhibitions_registration"
KIND_CHECK_IN = "exhibitions_check_in"
KIND_LEAD = "exhibitions_lead"
KIND_MEETING = "exhibitions_meeting"
KIND_INVITATION = "exhibitions_invitation"
KIND_SURVEY = "exhibitions_survey"
KIND_FOLLOW_UP = "exhibitions_follow_up"
KIND_PARTICIPATION = "exhibitions_participation"
KIND_MATCHES = "exhibitions_matches"

INTERACTION_KINDS = [
    Choice(KIND_REGISTRATION, "Show registration", "展会预登记"),
    Choice(KIND_CHECK_IN, "Show check-in", "展会入场"),
    Choice(KIND_LEAD, "Lead captured at a booth", "展位留资"),
    Choice(KIND_MEETING, "Show meeting", "展会洽谈"),
    Choice(KIND_INVITATION, "Show invitation", "展会邀请"),
    Choice(KIND_SURVEY, "Show survey answer", "展会满意度调查"),
    Choice(KIND_FOLLOW_UP, "Post-show follow-up", "展后跟进"),
    Choice(KIND_PARTICIPATION, "Exhibitor participation", "参展"),
    Choice(KIND_MATCHES, "Show matches sent to a buyer", "展会供需配对推荐"),
]

VISITOR_CATEGORY = [
    Choice("buyer", "Professional buyer", "专业观众"),
    Choice("general", "General visitor", "普通观众"),
    Choice("media", "Media", "媒体"),
    Choice("vip", "VIP", "贵宾"),
]
PROFESSIONAL = ("buyer", "vip")

PURCHASE_INTENT = [
    Choice("none", "No purchase planned", "无采购计划"),
    Choice("low", "Low", "低"),
    Choice("medium", "Medium", "中"),
    Choice("high", "High", "高"),
]

REGISTRATION_SOURCE = [
    Choice("past_edition", "Past edition", "往届观众"),
    Choice("partner", "Partner", "合作伙伴"),
    Choice("web", "Web", "网上登记"),
    Choice("onsite", "On-site", "现场登记"),
]

REGISTRATION_STATUS = [
    Choice("registered", "Registered", "已登记"),
    Choice("cancelled", "Cancelled", "已取消"),
]

BOOTH_STATUS = [
    Choice("available", "Available", "可售"),
    Choice("reserved", "Reserved", "已预订"),
    Choice("sold", "Sold", "已售"),
]

SCAN_DIRECTION = [
    Choice("entry", "Entry", "入场"),
    Choice("exit", "Exit", "出场"),
]

LEAD_RATING = [
    Choice("hot", "Hot", "热"),
    Choice("warm", "Warm", "温"),
    Choice("cold", "Cold", "冷"),
]

INVITATION_STATUS = [
    Choice("invited", "Invited", "已邀请"),
    Choice("registered", "Registered", "已登记"),
]

SURVEY_PHASE = [
    Choice("during", "During the show", "展中"),
    Choice("after", "After the show", "展后"),
]

SURVEY_RESPONDENT = [
    Choice("visitor", "Visitor", "观众"),
    Choice("exhibitor", "Exhibitor", "展商"),
]

PRODUCT_CATEGORY = [
    Choice("machinery", "Machinery", "机械设备"),
    Choice("electronics", "Electronics", "电子产品"),
    Choice("textiles", "Textiles", "纺织品"),
    Choice("food", "Food and beverage", "食品饮料"),
    Choice("chemicals", "Chemicals", "化工"),
    Choice("furniture", "Furniture", "家具"),
    Choice("packaging", "Packaging", "包装"),
    Choice("automotive", "Automotive parts", "汽车配件"),
    Choice("medical", "Medical devices", "医疗器械"),
    Choice("software", "Software and services", "软件与服务"),
]

#: What an exhibitor may be allowed to read about a visitor (the organiser picks per edition).
VISITOR_FIELD = [
    Choice("name", "Name", "姓名"),
    Choice("company", "Company", "公司"),
    Choice("job_title", "Job title", "职位"),
    Choice("email", "Email", "邮箱"),
    Choice("phone", "Phone", "电话"),
    Choice("region", "Region", "地区"),
    Choice("category", "Visitor category", "观众类别"),
    Choice("interests", "Interests", "感兴趣的产品"),
    Choice("purchase_intent", "Purchase intent", "采购意向"),
]
DEFAULT_VISIBLE_FIELDS = ["name", "company", "job_title", "category", "interests"]

LABELS = {
    "notification_kind": [
        Choice("exhibitions.follow_up", "Lead follow-up due", "线索跟进"),
        Choice("exhibitions.matches", "Matching buyers", "匹配买家"),
        Choice("exhibitions.meeting_requested", "Meeting requested", "洽谈邀约"),
    ],
    "exhibitions_visitor_category": VISITOR_CATEGORY,
    "exhibitions_purchase_intent": PURCHASE_INTENT,
    "exhibitions_registration_source": REGISTRATION_SOURCE,
    "exhibitions_registration_status": REGISTRATION_STATUS,
    "exhibitions_booth_status": BOOTH_STATUS,
    "exhibitions_scan_direction": SCAN_DIRECTION,
    "exhibitions_lead_rating": LEAD_RATING,
    "exhibitions_invitation_status": INVITATION_STATUS,
    "exhibitions_survey_phase": SURVEY_PHASE,
    "exhibitions_survey_respondent": SURVEY_RESPONDENT,
    "exhibitions_product_category": PRODUCT_CATEGORY,
    "exhibitions_visitor_field": VISITOR_FIELD,
}


def values(choices: list[Choice]) -> list[str]:
    return [c.value for c in choices]
