"""``trellis import TYPE FILE``: import customers, contacts, interactions or a plugin's records from CSV,
XLSX or JSON Lines (docs/import-export.md). The command only translates: ``core.services.imports`` reads,
checks, writes, records progress and resumes."""
from __future__ import annotations

import csv
import sys
import time
from typing import Any, Callable

import click

GROUP_HELP = """Import records from a CSV, XLSX or JSON Lines file (see docs/import-export.md).

\b
  trellis import customers customers.csv
  trellis import interactions purchases.xlsx --mapping columns.json --dry-run --errors errors.csv

Every row needs an external_id (the record's id in the system it comes from): importing the same file
again changes nothing, a corrected file updates the rows that changed. Rows are committed in batches;
an interrupted import continues where it stopped when the same command is run again. A dry run checks
every row and writes nothing. The columns each type expects (header names; --mapping renames them):"""


def _types() -> dict:
    from flask import current_app

    return current_app.extensions["trellis"].import_types


class RecordTypeGroup(click.Group):
    """A group with one subcommand per record type of the app (the core's and the enabled plugins'):
    ``types()`` names them, ``command_for(type)`` makes each one's command when it is asked for, and
    ``describe(type, formatter)`` writes what the group's help says of each, after the type's name."""

    def __init__(self, name: str, *, types: Callable[[], dict], command_for: Callable[[Any], click.Command],
                 describe: Callable[[Any, click.HelpFormatter], None], **kwargs: Any):
        super().__init__(name, **kwargs)
        self.types, self.command_for, self.describe = types, command_for, describe

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(self.types())

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        itype = self.types().get(name)
        return None if itype is None else self.command_for(itype)

    def format_epilog(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        for name, itype in sorted(self.types().items()):
            formatter.write_paragraph()
            formatter.write_text(f"{name}: {itype.description}")
            self.describe(itype, formatter)


def _describe(itype: Any, formatter: click.HelpFormatter) -> None:
    formatter.write(itype.help() + "\n")


def _type_command(itype: Any) -> click.Command:
    help_text = (f"Import {itype.name} from FILE (.csv, .xlsx, .jsonl). {itype.description}\n\n"
                 "Columns (header names, or renamed with --mapping):\n\n\b\n" + itype.help())

    @click.command(itype.name, help=help_text, short_help=itype.description)
    @click.argument("file", type=click.Path(exists=True, dir_okay=False))
    @click.option("--mapping", "mapping_file", type=click.Path(exists=True, dir_okay=False),
                  help='A JSON file {"column in the file": "column above" | null (ignore it)}.')
    @click.option("--dry-run", is_flag=True, help="Check every row and report the errors; write nothing.")
    @click.option("--errors", "errors_file", type=click.Path(dir_okay=False, writable=True),
                  help="Write every row error to this CSV file (row, column, reason).")
    @click.option("--format", "fmt", type=click.Choice(["csv", "xlsx", "jsonl"]),
                  help="The file's format (default: by its name's ending).")
    @click.option("--as", "as_email", metavar="EMAIL", help="The admin recorded as importing (default: the first admin).")
    def command(file: str, mapping_file: str | None, dry_run: bool, errors_file: str | None, fmt: str | None,
                as_email: str | None):
        _run(itype.name, file, mapping_file, dry_run, errors_file, fmt, as_email)

    return command


def _admin(email: str | None, doing: str = "import") -> Any:
    """The user given with --as, or the first active admin (a 404 saying what to do when there is none)."""
    from sqlalchemy import select

    from core import db
    from core.errors import NotFound
    from core.models import Role, User
    from core.services import users

    if email:
        return users.by_email(email)
    admin = db.session().scalars(select(User).where(User.role == Role.ADMIN.value, User.is_active.is_(True),
                                                    User.deleted_at.is_(None)).order_by(User.created_at)).first()
    if admin is None:
        raise NotFound(f"No admin to {doing} as: create one (trellis users create EMAIL --role admin) or give --as.")
    return admin


class _Progress:
    """A click progress bar with rows per second and the time left, on a terminal; nothing otherwise."""

    def __init__(self, label: str):
        self.tty = sys.stdout.isatty()
        self.bar: Any = None
        self.label, self.started, self.first = label, time.monotonic(), None

    def __call__(self, done: int, total: int | None) -> None:
        if not self.tty:
            return
        if self.bar is None:
            self.first = done
            self.bar = click.progressbar(length=max(total or done or 1, 1), label=self.label, show_eta=True,
                                         show_percent=True, item_show_func=lambda text: text)
            self.bar.__enter__()
        seconds = max(time.monotonic() - self.started, 1e-6)
        self.bar.length = max(self.bar.length, done, 1)
        self.bar.pos = done
        self.bar.current_item = f"{done:,} rows, {(done - (self.first or 0)) / seconds:,.0f}/s"
        self.bar.render_progress()

    def close(self) -> None:
        if self.bar is not None:
            self.bar.render_finish()


def _run(record_type: str, file: str, mapping_file: str | None, dry_run: bool, errors_file: str | None,
         fmt: str | None, as_email: str | None) -> None:
    from api.cli import runtime
    from core.imports import load_mapping
    from core.services import imports

    rt = runtime()
    mapping = {}
    if mapping_file:
        with open(mapping_file, "rb") as fh:
            mapping = load_mapping(fh.read())
    out = open(errors_file, "w", newline="", encoding="utf-8") if errors_file else None
    writer = csv.writer(out) if out else None
    if writer:
        writer.writerow(["row", "column", "reason"])
    shown: list = []

    def on_errors(errors: list) -> None:
        if writer:
            writer.writerows([e.row, e.column, e.reason] for e in errors)
        if len(shown) < 10:
            shown.extend(errors[:10 - len(shown)])

    progress = _Progress(f"{record_type:<14}")
    started = time.monotonic()
    try:
        with rt.database.unit_of_work():
            actor = _admin(as_email)
            if not dry_run:
                run = imports.start_run(actor, record_type, file, mapping=mapping, fmt=fmt)
                run_id, resumed = run.id, run.rows_done
        if dry_run:
            outcome = imports.dry_run(actor, record_type, file, mapping=mapping, fmt=fmt, database=rt.database,
                                      progress=progress, on_errors=on_errors)
        else:
            if resumed:
                click.echo(f"Continuing an interrupted import of this file after row {resumed:,}.")
            outcome = imports.run_import(run_id, database=rt.database, path=file, progress=progress,
                                         on_errors=on_errors)
    except KeyboardInterrupt:
        progress.close()
        click.echo("Interrupted: what was reported done is saved; run the same command again to continue.", err=True)
        raise click.Abort() from None
    finally:
        progress.close()
        if out:
            out.close()
    seconds = max(time.monotonic() - started, 1e-6)
    done_now = outcome.rows_done - outcome.resumed_from
    click.echo(f"{outcome.summary()} {seconds:.1f} s, {done_now / seconds:,.0f} rows/s.")
    if outcome.errors:
        for e in shown:
            click.echo(f"  row {e.row}, {e.column}: {e.reason}", err=True)
        more = f"; all of them in {errors_file}" if errors_file else "; give --errors FILE for the full list"
        raise click.ClickException(f"{outcome.errors:,} row(s) had errors{more}.")


import_group = RecordTypeGroup("import", types=_types, command_for=_type_command,
                               describe=_describe, help=GROUP_HELP,
                               short_help="Import records from CSV, XLSX or JSON Lines.")
