"""Exhibitions (会展): the lists under one record, and the exhibitor users, exported as their REST lists
(``trellis_export_types``, beside :func:`plugins.exhibitions.imports.export_types`).

Each is the list's SELECT from the service the REST list uses (scope and permission there), written in the
fields of the REST list's items. A list under one record takes the record as a required filter named as
its path's parameter (``participation_id``, ``meeting_id``): missing, or one the caller may not see, is a
422 naming it.

The matches (``GET …/participations/<id>/matches``, ``…/registrations/<id>/matches``) are a ranking of
the best ``limit`` (at most 100) buyers or exhibitors scored per request from the categories, not a
SELECT: they export as computed lists (``Export.computed``), the items the list's own service function
returns for the caller, in rank order, with the record (``participation_id``, ``registration_id``) and
``limit`` as filters.
"""
from __future__ import annotations


def export_types() -> list:
    """The exhibitor users (filter ``company_id``), a participation's and a meeting's status moves, an
    exhibitor's and a buyer's matches."""
    from core.exports import schema_export
    from core.schemas import TransitionOut
    from plugins.exhibitions import schemas as S
    from plugins.exhibitions import services

    return [schema_export("exhibitions.exhibitor_users", "Exhibitor users and the companies they work for "
                          "(organiser staff all; an exhibitor user their company's).",
                          services.filtered_exhibitor_users, S.ExhibitorUserOut,
                          filters=S.ExhibitionExhibitorUserFilter, route="/exhibitions/exhibitor-users"),
            schema_export("exhibitions.participation_history", "One participation's status moves (filter "
                          "participation_id, required).", services.filtered_participation_history, TransitionOut,
                          filters=S.ExhibitionParticipationHistoryFilter,
                          route="/exhibitions/participations/{participation_id}/history"),
            schema_export("exhibitions.meeting_history", "One meeting's status moves (filter meeting_id, required).",
                          services.filtered_meeting_history, TransitionOut, filters=S.ExhibitionMeetingHistoryFilter,
                          route="/exhibitions/meetings/{meeting_id}/history"),
            schema_export("exhibitions.participation_matches", "An exhibitor's best buyers, ranked, with the reasons "
                          "(filter participation_id, required; limit, default 20, at most 100; the visitor as "
                          "JSON text with the fields you may see).", services.filtered_matches_for_exhibitor,
                          S.MatchOut, filters=S.ExhibitionParticipationMatchFilter,
                          route="/exhibitions/participations/{participation_id}/matches", computed=True),
            schema_export("exhibitions.registration_matches", "A buyer's best exhibitors, ranked, with the reasons "
                          "(filter registration_id, required; limit, default 20, at most 100).",
                          services.filtered_matches_for_buyer, S.MatchOut, filters=S.ExhibitionRegistrationMatchFilter,
                          route="/exhibitions/registrations/{registration_id}/matches", computed=True)]
