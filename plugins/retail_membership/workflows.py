"""Retail membership (零售会员): State machines of the plugin's records, declared through the core workflow engine.

- ``retail_membership_membership.tier``: a member's tier. Purchases, refunds and ``trellis tick`` move
  it automatically; a manager may place a member by hand (with a reason). Every move is in the history.
- ``retail_membership_campaign.status``: draft → launched → closed.
"""
from __future__ import annotations

from core.workflow import ANY, AUTOMATIC, IMPORT, MANUAL, State, Transition, Workflow

from plugins.retail_membership import program as programme
from plugins.retail_membership.models import RetailCampaign, RetailMembership

TIER = "retail_membership_membership.tier"
CAMPAIGN = "retail_membership_campaign.status"


def tier_workflow(settings) -> Workflow:
    prog = programme.program(settings)
    return Workflow(
        name=TIER, model=RetailMembership, field="tier", initial=prog.lowest.code,
        label_en="Member tier", label_zh_cn="会员等级",
        states=tuple(State(t.code, t.en, t.zh_cn) for t in prog.tiers),
        transitions=tuple(Transition(ANY, t.code, triggers=(AUTOMATIC, IMPORT, MANUAL)) for t in prog.tiers),
    )


def campaign_workflow(settings) -> Workflow:
    return Workflow(
        name=CAMPAIGN, model=RetailCampaign, field="status", initial="draft",
        label_en="Campaign status", label_zh_cn="营销活动状态",
        states=(State("draft", "Draft", "草稿"), State("launched", "Launched", "进行中"),
                State("closed", "Closed", "已结束")),
        # automatic: a holiday campaign launched by trellis tick on its day (campaigns.launch_scheduled)
        transitions=(Transition("draft", "launched", triggers=(MANUAL, AUTOMATIC)),
                     Transition("launched", "closed", triggers=(MANUAL, AUTOMATIC))),
    )


def workflows(settings) -> list[Workflow]:
    return [tier_workflow(settings), campaign_workflow(settings)]
