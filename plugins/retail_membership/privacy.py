"""Where the retail membership plugin keeps personal data (``trellis_personal_data``): the member card
(birthday, preferences, phone), family occasions, purchases and their lines, refunds, the points ledger,
campaign assignments and lapse alerts. Amounts, points and counts are kept: they are the store's figures."""
from __future__ import annotations

from sqlalchemy import select

from core.privacy import PersonalData
from plugins.retail_membership.models import (
    RetailCampaignMember, RetailLapseAlert, RetailMembership, RetailOccasion, RetailOccasionNotice, RetailPointsEntry,
    RetailPurchase, RetailPurchaseLine, RetailRefund,
)


def _members(person):
    return select(RetailMembership.id).where(RetailMembership.customer_id.in_(person.customer_ids))


def personal_data() -> list[PersonalData]:
    return [
        PersonalData(RetailMembership, lambda p: RetailMembership.customer_id.in_(p.customer_ids),
                     fields=("birthday", "preferences", "phone", "phone_key"),
                     description="The member card: birthday, preferences and phone erased; card number, tier, spend kept."),
        PersonalData(RetailOccasion, lambda p: RetailOccasion.membership_id.in_(_members(p)),
                     fields=("name", "year"), retire=True,
                     description="Family occasions: names and years erased and the occasions retired (no greetings)."),
        PersonalData(RetailOccasionNotice, lambda p: RetailOccasionNotice.membership_id.in_(_members(p)),
                     fields=("on_date",), description="Occasions announced to the staff: the date erased."),
        PersonalData(RetailPurchase, lambda p: RetailPurchase.customer_id.in_(p.customer_ids),
                     description="Purchases (exported; amounts kept)."),
        PersonalData(RetailPurchaseLine, lambda p: RetailPurchaseLine.purchase_id.in_(
            select(RetailPurchase.id).where(RetailPurchase.customer_id.in_(p.customer_ids))),
            description="Purchase lines (exported; kept)."),
        PersonalData(RetailRefund, lambda p: RetailRefund.membership_id.in_(_members(p)), fields=("reason",),
                     description="Refunds: the reason erased, the amount kept."),
        PersonalData(RetailPointsEntry, lambda p: RetailPointsEntry.membership_id.in_(_members(p)),
                     fields=("reason",), description="The points ledger: reasons erased, points kept."),
        PersonalData(RetailCampaignMember, lambda p: RetailCampaignMember.membership_id.in_(_members(p)),
                     description="Campaign assignments (exported; kept for the campaigns' lift)."),
        PersonalData(RetailLapseAlert, lambda p: RetailLapseAlert.membership_id.in_(_members(p)),
                     description="Lapse alerts (exported; kept)."),
    ]
