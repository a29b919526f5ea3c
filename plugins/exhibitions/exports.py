"""Exhibitions (会展): the lists under one record, and the exhibitor users, exported as their REST lists
(``trellis_export_types``, beside :func:`plugins.exhibitions.imports.export_types`).

Each is the list's SELECT from the service the REST list uses (scope and permission there), written in the
fields of the REST list's items. A list under one record takes the record as a required filter named as
its path's parameter (``participation_id``, ``meeting_id``): missing, or one the caller may not see, is a
422 naming it.

Not exported: the matches (``GET …/participations/<id>/matches``, ``…/registrations/<id>/matches``), a
ranking of the best ``limit`` (at most 100) buyers or exhibitors computed per request from the
categories, not a list of one model an export reads by id; in id order it would lose the ranking, the
point of it.
"""
from __future__ import annotations


def export_types() -> list:
    """The exhibitor users (filter ``company_id``), a participation's and a meeting's status moves."""
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
                          route="/exhibitions/meetings/{meeting_id}/history")]
