"""``trellis privacy export|erase``: the command-line transport of ``core.services.privacy``. The acting
admin is named with ``--as`` (recorded as who exported or erased)."""
from __future__ import annotations

import json

import click


@click.group("privacy")
def privacy_group():
    """A person's data (GDPR, PIPL): export it all, or erase it (docs/privacy.md)."""


def _admin(email: str):
    from core.services import users

    return users.by_email(email)


@privacy_group.command("export")
@click.argument("person")
@click.option("--as", "as_email", required=True, help="Email of the admin making the export (recorded).")
@click.option("--output", "-o", type=click.File("w", encoding="utf-8"), default="-", show_default=True,
              help="Where to write the JSON document.")
def export_command(person: str, as_email: str, output):
    """Print everything held about PERSON (a customer id, a contact id or an email) as JSON."""
    from api.cli import with_unit_of_work
    from core.services import privacy

    document = with_unit_of_work(lambda: privacy.export(_admin(as_email), person))()
    json.dump(document, output, ensure_ascii=False, indent=2, sort_keys=True)
    output.write("\n")


@privacy_group.command("erase")
@click.argument("person")
@click.option("--reason", "-r", required=True, help="Why: the request and its date (no personal data).")
@click.option("--as", "as_email", required=True, help="Email of the admin erasing (recorded).")
def erase_command(person: str, reason: str, as_email: str):
    """Erase PERSON's personal data everywhere; amounts, counts and the fact of the erasure are kept."""
    from api.cli import with_unit_of_work
    from core.services import privacy

    report = with_unit_of_work(lambda: privacy.erase(_admin(as_email), person, reason=reason))()
    fields = sum(n for tables in report["erased"].values() for n in tables.values())
    rows = sum(report["trail"].values())
    if report["already_erased"]:
        click.echo(f"Nothing left to erase for {report['person']['kind']} {report['person']['id']}; "
                   f"erased on {report['erasure']['at']}.")
    else:
        click.echo(f"Erased {fields} field(s) and scrubbed {rows} audit/event/notification row(s) of "
                   f"{report['person']['kind']} {report['person']['id']}.")
    click.echo(json.dumps(report, ensure_ascii=False, sort_keys=True))
