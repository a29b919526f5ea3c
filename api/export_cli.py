"""``trellis export TYPE``: write a list (customers, contacts, interactions or a plugin's records) with its
filters as CSV, XLSX or JSON Lines, in the columns ``trellis import`` reads (docs/import-export.md,
"Export"). The command only translates: ``core.services.exports`` checks, reads and encodes."""
from __future__ import annotations

import os
import sys
import time
from typing import Any

import click

from api.import_cli import RecordTypeGroup

GROUP_HELP = """Export a list, with its filters, to CSV, XLSX or JSON Lines (see docs/import-export.md).

\b
  trellis export customers --output customers.csv
  trellis export customers --filter region=East --filter stage=repeat --format xlsx -o east.xlsx
  trellis export interactions --filter kind=purchase --format jsonl > purchases.jsonl

An import type's file has the columns `trellis import TYPE` reads, so it imports back unchanged; a list
that is not imported (audit, customer_history, win_back, ...) is written in the fields of its REST items.
The export sees what the user's list shows (--as EMAIL; by default the first admin, as `trellis import`).
The types, their columns, the filters each takes (--filter KEY=VALUE, as the REST list's query
arguments) and the REST list each is:"""


def _types() -> dict:
    from flask import current_app

    from core.exports import export_types

    return export_types(current_app.extensions["trellis"])


def _filters_of(itype: Any) -> list[str]:
    from core.exports import filter_names

    return filter_names(itype)


def _describe(itype: Any, formatter: click.HelpFormatter) -> None:
    from core.exports import columns_of

    with formatter.indentation():
        formatter.write_text("columns: " + ", ".join(columns_of(itype)))
        formatter.write_text("filters: " + (", ".join(_filters_of(itype)) or "none"))
        if itype.export.route:
            formatter.write_text(f"list: GET /api/v1{itype.export.route}")


def _type_command(itype: Any) -> click.Command:
    from core.exports import columns_of

    help_text = (f"Export {itype.name} (the list, with --filter) to CSV, XLSX or JSON Lines. {itype.description}"
                 f"\n\nColumns: {', '.join(columns_of(itype))}."
                 f"\n\nFilters (--filter KEY=VALUE, repeatable): {', '.join(_filters_of(itype)) or 'none'}."
                 + (f"\n\nThe list: GET /api/v1{itype.export.route}." if itype.export.route else ""))

    @click.command(itype.name, help=help_text, short_help=itype.description)
    @click.option("--format", "fmt", type=click.Choice(["csv", "xlsx", "jsonl"]),
                  help="The file's format (default: by --output's ending, else csv).")
    @click.option("--output", "-o", "output", type=click.Path(dir_okay=False, writable=True),
                  help="The file to write (default: standard output).")
    @click.option("--filter", "filters", multiple=True, metavar="KEY=VALUE",
                  help="A filter of the list, as the REST list's query argument (repeatable).")
    @click.option("--as", "as_email", metavar="EMAIL",
                  help="The user whose list is exported (default: the first admin).")
    def command(fmt: str | None, output: str | None, filters: tuple[str, ...], as_email: str | None):
        _run(itype.name, fmt, output, filters, as_email)

    return command


def _parse_filters(given: tuple[str, ...]) -> dict[str, str]:
    out: dict[str, str] = {}
    for item in given:
        key, sep, value = item.partition("=")
        key = key.strip()
        if not sep or not key:
            raise click.BadParameter(f"'{item}' is not KEY=VALUE.", param_hint="--filter")
        if key in out:
            raise click.BadParameter(f"'{key}' is given twice.", param_hint="--filter")
        out[key] = value
    return out


def _format_of(fmt: str | None, output: str | None) -> str:
    if fmt:
        return fmt
    if output:
        from core.exports import EXTENSIONS

        ending = os.path.splitext(output)[1].lower()
        for name, ext in EXTENSIONS.items():
            if ending == ext:
                return name
    return "csv"


def _run(record_type: str, fmt: str | None, output: str | None, filters: tuple[str, ...],
         as_email: str | None) -> None:
    from api.cli import runtime
    from api.import_cli import _admin
    from core.services import exports

    rt = runtime()
    parsed = _parse_filters(filters)
    fmt = _format_of(fmt, output)
    if fmt == "xlsx" and not output and sys.stdout.isatty():
        raise click.UsageError("An XLSX file is binary: give --output FILE (or redirect standard output).")
    with rt.database.unit_of_work():
        request = exports.prepare(_admin(as_email, "export"), record_type, parsed, fmt)
    started = time.monotonic()
    target = output + ".part" if output else None
    out = open(target, "wb") if target else sys.stdout.buffer
    tally: dict = {}
    try:
        for chunk in exports.stream(request, database=rt.database, tally=tally):
            out.write(chunk)
        out.flush()
    except BaseException:
        if target:
            out.close()
            os.unlink(target)
        raise
    if target:
        out.close()
        os.replace(target, output)
        seconds = max(time.monotonic() - started, 1e-6)
        count = tally.get("rows", 0)
        click.echo(f"{record_type}: {count:,} rows written to {output} ({fmt}) in {seconds:.1f} s, "
                   f"{count / seconds:,.0f} rows/s.", err=True)


export_group = RecordTypeGroup("export", types=_types, command_for=_type_command,
                               describe=_describe, help=GROUP_HELP,
                               short_help="Export a list to CSV, XLSX or JSON Lines.")
