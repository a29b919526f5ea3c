"""Enumeration labels in English and Chinese (zh-CN), for every vocabulary the API exposes."""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Choice:
    """One value of a vocabulary with its labels."""

    value: str
    en: str
    zh_cn: str

    def as_dict(self) -> dict[str, str]:
        return {"value": self.value, "en": self.en, "zh_cn": self.zh_cn}


class LabelRegistry:
    """Vocabularies by name, each an ordered list of choices, merged from the core and every plugin."""

    def __init__(self) -> None:
        self._vocabularies: dict[str, dict[str, Choice]] = {}
        self._owner: dict[tuple[str, str], str] = {}

    def add(self, vocabulary: str, choices: list[Choice], *, owner: str) -> None:
        from core.errors import PluginError

        bucket = self._vocabularies.setdefault(vocabulary, {})
        for choice in choices:
            key = (vocabulary, choice.value)
            if key in self._owner and self._owner[key] != owner:
                raise PluginError(
                    f"Plugins '{self._owner[key]}' and '{owner}' both define the value '{choice.value}' of "
                    f"vocabulary '{vocabulary}'. Rename one of them (prefix values with the plugin name)."
                )
            self._owner[key] = owner
            bucket[choice.value] = choice

    def vocabularies(self) -> dict[str, list[Choice]]:
        return {name: list(choices.values()) for name, choices in sorted(self._vocabularies.items())}

    def owner(self, vocabulary: str) -> str | None:
        """The component that declared ``vocabulary`` first (the owner of its first value): the core for a
        vocabulary plugins extend (``interaction_kind``, ``role``)."""
        first = next(iter(self._vocabularies.get(vocabulary, {})), None)
        return None if first is None else self._owner[(vocabulary, first)]

    def values(self, vocabulary: str) -> list[str]:
        return list(self._vocabularies.get(vocabulary, {}))

    def label(self, vocabulary: str, value: str, locale: str = "en") -> str:
        choice = self._vocabularies.get(vocabulary, {}).get(value)
        if choice is None:
            return value
        return choice.zh_cn if locale.lower().startswith("zh") else choice.en


CORE_ROLES: list[Choice] = [
    Choice("admin", "Administrator", "管理员"),
    Choice("manager", "Manager", "经理"),
    Choice("rep", "Sales rep", "销售代表"),
]

CORE_LABELS: dict[str, list[Choice]] = {
    "customer_kind": [Choice("company", "Company", "企业"), Choice("person", "Person", "个人")],
    "customer_size": [
        Choice("micro", "Micro", "微型"),
        Choice("small", "Small", "小型"),
        Choice("medium", "Medium", "中型"),
        Choice("large", "Large", "大型"),
        Choice("enterprise", "Enterprise", "特大型"),
    ],
    "customer_source": [
        Choice("referral", "Referral", "转介绍"),
        Choice("exhibition", "Exhibition", "展会"),
        Choice("web_search", "Web search", "网络搜索"),
        Choice("directory", "Directory / yellow pages", "黄页名录"),
        Choice("association", "Association", "行业协会"),
        Choice("cold_call", "Cold call", "陌生拜访"),
        Choice("walk_in", "Walk-in", "上门"),
        Choice("advertising", "Advertising", "广告"),
        Choice("partner", "Partner", "合作伙伴"),
        Choice("other", "Other", "其他"),
    ],
    "lifecycle_stage": [
        Choice("potential", "Potential", "潜在客户"),
        Choice("intent", "Intent", "意向客户"),
        Choice("first_purchase", "First purchase", "购买客户"),
        Choice("repeat", "Repeat", "历史客户"),
        Choice("lost", "Lost", "流失客户"),
    ],
    "interaction_direction": [
        Choice("inbound", "Inbound", "来访/来电"),
        Choice("outbound", "Outbound", "外出/去电"),
        Choice("internal", "Internal", "内部"),
    ],
    "interaction_status": [
        Choice("done", "Done", "已完成"),
        Choice("planned", "Planned", "未完成"),
        Choice("cancelled", "Cancelled", "已取消"),
    ],
    "interaction_score_scale": [
        Choice("csat", "CSAT (1–5)", "满意度（1–5）"),
        Choice("nps", "NPS (0–10)", "净推荐值（0–10）"),
    ],
    "approval_status": [
        Choice("pending", "Pending", "待审批"),
        Choice("approved", "Approved", "已批准"),
        Choice("rejected", "Rejected", "已驳回"),
    ],
    "webhook_delivery_status": [
        Choice("pending", "Pending", "待发送"),
        Choice("delivered", "Delivered", "已送达"),
        Choice("failed", "Failed", "发送失败"),
    ],
    "webhook_breaker_state": [
        Choice("closed", "Closed: sending", "正常发送"),
        Choice("open", "Open: paused after failures", "因连续失败暂停"),
        Choice("half_open", "Half-open: one trial delivery", "试探发送中"),
    ],
    "workflow_trigger": [
        Choice("manual", "By hand", "手动"),
        Choice("automatic", "Automatic", "自动"),
        Choice("import", "Import", "导入"),
    ],
    "locale": [Choice("en", "English", "英文"), Choice("zh-CN", "Simplified Chinese", "简体中文")],
    "analytics_run_status": [
        Choice("queued", "Queued: waiting for the worker", "排队中"),
        Choice("running", "Running", "运行中"),
        Choice("ok", "Complete", "完成"),
        Choice("partial", "Partial: some models failed (see the message)", "部分完成（见说明）"),
        Choice("failed", "Failed (see the message)", "失败（见说明）"),
    ],
    "privacy_erasure_job_status": [
        Choice("queued", "Queued: waiting for the worker", "排队中"),
        Choice("running", "Running", "运行中"),
        Choice("done", "Erased", "已删除"),
        Choice("failed", "Failed (see the message)", "失败（见说明）"),
    ],
    "export_job_status": [
        Choice("queued", "Queued: waiting for the worker", "排队中"),
        Choice("running", "Running", "运行中"),
        Choice("done", "Done: ready to download", "已完成，可下载"),
        Choice("failed", "Failed (see the message)", "失败（见说明）"),
        Choice("expired", "Expired: the file was removed", "已过期，文件已删除"),
    ],
    "value_tier": [   # core.analytics.value.TIERS, best first
        Choice("key", "Key account", "大客户"),
        Choice("major", "Major customer", "重要客户"),
        Choice("regular", "Regular customer", "普通客户"),
        Choice("small", "Small customer", "小客户"),
    ],
    # why two customers are duplicate candidates (core.services.duplicates)
    "duplicate_reason": [
        Choice("email", "Same e-mail address", "邮箱相同"),
        Choice("phone", "Same phone number", "电话相同"),
        Choice("name", "Same name", "名称相同"),
    ],
    "win_back_status": [
        Choice("lost", "Lost", "已流失"),
        Choice("at_risk", "At risk", "有流失风险"),
    ],
    # what a notification is about; a plugin adds its own kinds (trellis_labels: "notification_kind")
    "notification_kind": [
        Choice("task.reminder", "Task reminder", "任务提醒"),
        Choice("task.overdue", "Task overdue", "任务逾期"),
        Choice("task.escalated", "Task chased", "任务催办"),
        Choice("workflow.stagnation", "Stuck in a stage", "阶段停滞"),
        Choice("workflow.approval_requested", "Approval requested", "待审批"),
        Choice("workflow.approval_approved", "Request approved", "申请已批准"),
        Choice("workflow.approval_rejected", "Request rejected", "申请已驳回"),
        Choice("export.ready", "Export ready to download", "导出文件已生成"),
        Choice("export.failed", "Export failed", "导出失败"),
    ],
}

CORE_INTERACTION_KINDS: list[Choice] = [
    Choice("call", "Phone call", "电话"),
    Choice("email", "Email", "邮件"),
    Choice("meeting", "Meeting", "会议"),
    Choice("visit", "Visit", "拜访"),
    Choice("proposal", "Proposal", "建议书"),
    Choice("quote", "Quote", "报价"),
    Choice("purchase", "Purchase / order", "购买/订单"),
    Choice("complaint", "Complaint", "投诉"),
    Choice("service_request", "Service request", "服务请求"),
    Choice("survey", "Survey answer", "调查反馈"),
    Choice("check_in", "Event check-in", "活动签到"),
    Choice("referral", "Referral", "转介绍"),
    Choice("note", "Note", "备注"),
]
