"""Retail membership (零售会员): the lists under one record exported as their REST lists
(``trellis_export_types``, beside :func:`plugins.retail_membership.imports.export_types`).

Each is the list's SELECT from the service the REST list uses (scope and permission there), written in the
fields of the REST list's items. A list under one record takes the record as a required filter named as
its path's parameter (``campaign_id``, ``membership_id``, ``store_id``): missing, or one the caller may not
see, is a 422 naming it. A member's purchases (``GET …/memberships/<id>/purchases``) are the
``retail_membership.purchases`` export with ``membership_id``.

The tiers (``GET …/tiers``: the programme's configuration, ``TRELLIS_RETAIL_MEMBERSHIP_TIERS``, no
filters) and the holidays (``GET …/holidays``: the deployment's holiday calendar computed for the range
``from``–``to``, at most three years) are no SELECT but built per request: they export as computed lists
(``Export.computed``), the items the list's own service function returns, in the list's order, the
holidays with the list's query arguments (``from``, ``to``) as filters checked as the list checks them.
"""
from __future__ import annotations


def export_types() -> list:
    """A campaign's members, a member's tier changes, a store's staff, the tiers, the holiday calendar."""
    from core.exports import schema_export
    from plugins.retail_membership import campaigns, services
    from plugins.retail_membership import schemas as S

    return [schema_export("retail_membership.campaign_members", "One campaign's members you may see: group and "
                          "coupon (filter campaign_id, required).", campaigns.filtered_members, S.CampaignMemberOut,
                          filters=S.RetailCampaignMemberListFilter,
                          route="/retail-membership/campaigns/{campaign_id}/members"),
            schema_export("retail_membership.tier_history", "One member's tier changes (filter membership_id, "
                          "required).", services.filtered_tier_history, S.TierTransitionOut,
                          filters=S.RetailTierHistoryFilter,
                          route="/retail-membership/memberships/{membership_id}/tier-history"),
            schema_export("retail_membership.store_staff", "One store's staff (filter store_id, required).",
                          services.filtered_staff, S.StaffOut, filters=S.RetailStaffListFilter,
                          route="/retail-membership/stores/{store_id}/staff"),
            schema_export("retail_membership.tiers", "The tiers as configured: threshold, discount rate and points "
                          "multiplier, lowest first (no filters).", services.list_tiers, S.TierOut,
                          filters=S.RetailTierFilter, route="/retail-membership/tiers", computed=True),
            schema_export("retail_membership.holidays", "The holidays of the deployment's calendar from `from` "
                          "(default today) to `to` (default a year on; at most three years), in date order (the "
                          "label as JSON text).", campaigns.listed_holidays, S.RetailHolidayOut,
                          filters=S.RetailHolidayArgs, route="/retail-membership/holidays", computed=True)]
