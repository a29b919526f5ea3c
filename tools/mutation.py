"""Mutation testing by hand (never in CI): cosmic-ray over one service module at a time, each mutant
checked by only the test files that cover that module, so a run is bounded.

    pip install -e '.[dev]'                         # cosmic-ray
    python tools/mutation.py --list                 # the modules it knows and their test files
    python tools/mutation.py core/services/contacts.py [more modules] [--full] [--timeout 300]
    python tools/mutation.py plugins/retail_membership/services.py --sample 60 --seed 1   # a seeded sample
    python tools/mutation.py core/services/contacts.py --rerun-survivors   # after writing tests

The working tree is never touched: the tracked and untracked (not ignored) files are copied to a scratch
directory and mutated there. Every mutant runs ``pytest -x`` on the module's test files; a mutant is
*killed* when a test fails, *survives* when they all pass. By default the operator families that mostly
produce equivalent or duplicate mutants (a ``*`` turned into each of ``<<``, ``>>``, ``**``, ``|``, ...;
``==`` turned into each ordering) are left out, which cuts a module's mutants by about two thirds; pass
``--full`` for all of them. The survivors are printed with their diff; each is a test waiting to be
written (or an equivalent mutant to note). Sessions are kept in ``--out`` (default
``.mutation/``, ignored by git) so an interrupted run resumes where it stopped. ``--sample N`` runs a
seeded random sample of N of the module's (filtered) mutants, for a module too big to run whole; the
others are marked skipped in the session (so the sample is fixed once the session exists) and the report
says "sampled N of M". ``--rerun-survivors`` runs only the last run's survivors again (after new tests).

Speed: a mutant's cost is one pytest start-up. By default a *fork server* imports the heavy third-party
packages (numpy, scipy, SQLAlchemy, Flask, strawberry, pytest) once and runs each mutant's pytest in a
``fork()`` of itself, which imports the project's code fresh from the mutated scratch copy
(``--no-fork-server`` for a plain ``python -m pytest`` per mutant).
"""
from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

#: module -> the test files that exercise it (the run uses only these; keep the list honest and short).
#: Order matters: ``pytest -x`` stops at the first failure, so a killed mutant costs only the start-up and
#: the tests before the first failing one; put the fast, most specific file first.
MODULE_TESTS: dict[str, list[str]] = {
    # core services
    "core/services/contacts.py": ["tests/api/rest/test_contacts_interactions.py",
                                  "tests/api/rest/test_deleted_customer_records.py",
                                  "tests/api/graphql/test_records.py"],  # Customer.contacts (for_customers)
    "core/services/interactions.py": ["tests/api/rest/test_contacts_interactions.py",
                                      "tests/api/rest/test_deleted_customer_records.py",
                                      "tests/core/test_tasks_ownership.py",
                                      "tests/api/graphql/test_records.py"],  # latest/count_for_customers
    "core/services/customers.py": ["tests/api/rest/test_customers.py", "tests/api/rest/test_audit.py",
                                   "tests/api/rest/test_error_mapping.py",
                                   "tests/core/test_workflow_gates.py",  # create at a later stage
                                   "tests/core/test_lifecycle.py"],  # stages, levels, regrade
    "core/services/common.py": ["tests/api/rest/test_customers.py", "tests/api/rest/test_contacts_interactions.py",
                                "tests/api/test_keyset_paging.py"],  # Page, paginate with a KeysetRequest
    "core/services/audit.py": ["tests/api/rest/test_audit.py",
                               # entries over GraphQL, their sort, visible_entries (an AuditEntry node)
                               "tests/api/graphql/test_analytics_lists.py::test_audit_entries_for_admins_only",
                               "tests/api/graphql/test_core_list_ordering.py::"
                               "test_audit_entries_order_both_ways_and_newest_first_by_default",
                               "tests/api/graphql/test_core_list_ordering.py::test_audit_entries_over_rest_take_the_same_sort",
                               "tests/api/graphql/test_nodes.py::test_node_finds_a_record_of_every_core_type"],
    "core/services/users.py": ["tests/api/rest/test_people.py", "tests/api/test_auth.py",
                               "tests/api/test_credentials.py"],  # passwords, sessions, tokens: expiry, lists, revoking
    "core/services/people.py": ["tests/api/rest/test_people.py",
                                # deactivation ends credentials; an admin's password reset
                                "tests/api/test_credentials.py::test_reactivating_a_user_revives_no_session_or_token",
                                "tests/api/test_credentials.py::test_an_admin_password_reset_ends_every_session_of_the_user",
                                # USER_SORTABLE, TEAM_SORTABLE and their defaults
                                "tests/api/graphql/test_core_list_ordering.py::"
                                "test_users_order_by_name_and_email_both_ways_and_by_name_by_default",
                                "tests/api/graphql/test_core_list_ordering.py::"
                                "test_teams_order_by_name_both_ways_and_by_name_by_default"],
    "core/services/permissions.py": ["tests/core/test_permissions.py", "tests/api/rest/test_customers.py",
                                     "tests/core/test_tasks_ownership.py",
                                     # visibility() of a plugin's records: admins see all, a role its scopes
                                     "tests/plugins/property_service/test_requests.py::"
                                     "test_permissions_team_members_see_their_teams_requests_reps_their_customers"],
    "core/services/ownership.py": ["tests/core/test_tasks_ownership.py",
                                   "tests/api/graphql/test_lifecycle_graphql.py"],  # handoverCustomers, allocateCustomers
    "core/services/workflow.py": ["tests/core/test_lifecycle.py",
                                  "tests/core/test_workflow_gates.py",  # check_start: a record created at a later stage
                                  "tests/api/graphql/test_lifecycle_graphql.py"],
    "core/services/notifications.py": ["tests/core/test_lifecycle.py",
                                       "tests/core/test_tasks_ownership.py",  # reminders sent once (dedupe_key)
                                       "tests/api/graphql/test_lifecycle_graphql.py"],  # markNotificationRead
    "core/services/webhooks.py": ["tests/core/test_webhooks.py",
                                  "tests/core/test_webhook_targets.py"],  # private targets refused, at create and delivery
    "core/services/bulk.py": ["tests/core/test_bulk.py",
                              # a plugin's batches: start() (members enrolled at the default level, which
                              # no core test calls), transitions and an import refused whole; the demo
                              # test beside them is left out (seconds of set-up a mutant)
                              "tests/plugins/retail_membership/test_demo_and_bulk.py::"
                              "test_an_enrolled_member_starts_in_the_default_level_like_a_customer_created_one_by_one",
                              "tests/plugins/retail_membership/test_demo_and_bulk.py::"
                              "test_bulk_import_is_idempotent_and_keeps_the_ledger_balanced",
                              "tests/plugins/retail_membership/test_demo_and_bulk.py::"
                              "test_a_bulk_import_that_would_pass_the_points_cap_is_refused_whole"],
    "core/services/paging.py": ["tests/api/test_keyset_paging.py",  # seek_page, cursors, both transports
                                "tests/api/graphql/test_nested_ordering.py",  # seek_windows under orderBy
                                "tests/api/graphql/test_batching.py"],  # seek_windows by cursor both ways
    "core/services/privacy.py": ["tests/core/test_privacy.py",  # export, erase, erasures: REST, GraphQL, CLI
                                 # privacyErasures: erasure_page, its sort and filter
                                 "tests/api/graphql/test_core_list_ordering.py::"
                                 "test_privacy_erasures_take_a_filter_and_order_both_ways_oldest_first_by_default",
                                 "tests/api/graphql/test_core_list_ordering.py::"
                                 "test_privacy_erasures_filter_errors_name_the_filter_field",
                                 # a plugin's declared personal data exported and erased
                                 "tests/test_sample_plugin.py::test_hook_trellis_personal_data"],
    "core/services/analytics.py": ["tests/core/analytics/test_service.py",
                                   "tests/core/analytics/test_scope.py"],  # latest_run and segments per caller
    # core analytics (pure numerics)
    "core/analytics/rfm.py": ["tests/core/analytics/test_rfm.py", "tests/core/analytics/test_service.py"],
    "core/analytics/value.py": ["tests/core/analytics/test_value_segments.py"],
    "core/analytics/segmentation.py": ["tests/core/analytics/test_value_segments.py"],
    "core/analytics/clv.py": ["tests/core/analytics/test_clv.py",
                              "tests/core/analytics/test_value_segments.py"],  # discounted_clv's quadrature fallback
    # plugin services
    "plugins/exhibitions/services.py": ["tests/plugins/exhibitions/test_visitors.py",
                                        "tests/plugins/exhibitions/test_participations.py",
                                        "tests/plugins/exhibitions/test_leads.py",
                                        "tests/plugins/exhibitions/test_metrics_and_follow_up.py",
                                        "tests/plugins/exhibitions/test_bulk_audit.py"],  # import, scans, invitations
    "plugins/retail_membership/services.py": ["tests/plugins/retail_membership/test_points.py",
                                              "tests/plugins/retail_membership/test_purchases.py",
                                              "tests/plugins/retail_membership/test_crud.py",
                                              "tests/plugins/retail_membership/test_pos_batch_and_scope.py",
                                              "tests/plugins/retail_membership/test_replay_scope.py"],  # POS retries
    "plugins/retail_membership/campaigns.py": ["tests/plugins/retail_membership/test_jobs_and_campaigns.py",
                                               "tests/plugins/retail_membership/test_crud.py",
                                               # member_pages_for and member_counts (GraphQL only)
                                               "tests/plugins/retail_membership/test_graphql_parity.py::"
                                               "test_a_campaigns_members_and_their_single_use_coupons"],
    "plugins/property_service/services.py": [  # the reference records: estates, units, teams, kinds, settings, keys
        "tests/plugins/property_service/test_feedback_metrics_reference.py",
        "tests/plugins/property_service/test_graphql_records.py",
        "tests/plugins/property_service/test_requests.py",
        "tests/plugins/property_service/test_end_to_end.py",
        "tests/plugins/property_service/test_open311.py",  # API keys, public kinds
        "tests/plugins/property_service/test_graphql.py"],  # Customer.units (current occupancies)
    "plugins/property_service/requests.py": [  # the request lifecycle, SLA tick, feedback, Open311 intake
        "tests/plugins/property_service/test_requests.py",
        "tests/plugins/property_service/test_sla.py",  # check_sla, auto_close, deadlines on dispatch/wait
        "tests/plugins/property_service/test_end_to_end.py",
        "tests/plugins/property_service/test_feedback_metrics_reference.py",  # feedback links and ratings
        "tests/plugins/property_service/test_open311.py",  # create(open311=...), the public token paths
        "tests/plugins/property_service/test_graphql.py"],  # Customer.serviceRequests (pages/counts_for_customers)
    "plugins/property_service/workhours.py": ["tests/plugins/property_service/test_workhours.py"],
    "plugins/property_service/sla.py": ["tests/plugins/property_service/test_sla.py",
                                        "tests/plugins/property_service/test_requests.py",  # wait/resume: pause, unpause
                                        # the settings (cached, forgotten on change) and the SLA policies
                                        "tests/plugins/property_service/test_feedback_metrics_reference.py"],
}

#: operator families left out unless --full (duplicates of a mutant already made, or equivalent ones)
NOISY_OPERATORS = [
    r"core/ReplaceBinaryOperator_.*_(BitXor|BitAnd|BitOr|LShift|RShift|Pow|FloorDiv|Mod|Div)$",
    r"core/ReplaceBinaryOperator_(BitXor|BitAnd|BitOr|LShift|RShift|Pow|FloorDiv|Mod|Div)_.*",
    r"core/ReplaceComparisonOperator_(Eq|NotEq)_(Gt|GtE|Lt|LtE|Is|IsNot)$",
    r"core/ReplaceComparisonOperator_(Is|IsNot)_(Gt|GtE|Lt|LtE|Eq|NotEq)$",
]


#: third-party packages the fork server imports once (never the project's own packages: those must be
#: imported fresh, from disk, by every mutant's test run)
PRELOAD = ["numpy", "scipy.stats", "scipy.optimize", "scipy.special", "scipy.integrate", "sqlalchemy",
           "sqlalchemy.orm", "sqlalchemy.dialects.sqlite", "flask", "flask_smorest", "marshmallow", "strawberry",
           "strawberry.flask.views", "pluggy", "werkzeug", "jinja2", "pytest", "_pytest.python",
           "_pytest.assertion.rewrite"]
PROJECT_PACKAGES = ("api", "core", "plugins", "tests", "bench")


def serve(sock_path: str) -> int:
    """The fork server: import the heavy third-party packages once, then run each mutant's pytest in a
    fresh ``fork()`` of this process, so a mutant costs the project's imports and its tests, not numpy's
    and scipy's import. The child starts with none of the project's modules imported and the scratch
    directory first on ``sys.path`` (as ``python -m pytest`` run there would), so it reads the mutated
    file from disk. One request at a time (cosmic-ray's local distributor runs mutants one by one)."""
    import importlib

    for name in PRELOAD:
        try:
            importlib.import_module(name)
        except ImportError:
            pass
    leaked = sorted(m for m in sys.modules if m.split(".")[0] in PROJECT_PACKAGES)
    if leaked:
        raise SystemExit(f"fork server: project modules imported by the preload: {leaked}")
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    server.bind(sock_path)
    server.listen(1)
    while True:
        conn, _ = server.accept()
        with conn:
            request = json.loads(_read_all(conn))
            result = _fork_pytest(request["cwd"], request["args"], request["timeout"], request.get("client"))
            try:
                conn.sendall(json.dumps(result).encode())
            except OSError:
                pass  # the client was stopped by cosmic-ray's timeout


def _read_all(conn: socket.socket) -> bytes:
    chunks = []
    while chunk := conn.recv(65536):
        chunks.append(chunk)
    return b"".join(chunks)


def _alive(pid: int | None) -> bool:
    if pid is None:
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def _fork_pytest(cwd: str, args: list[str], timeout: float, client_pid: int | None) -> dict:
    out = tempfile.NamedTemporaryFile(prefix="mutant-", suffix=".log", delete=False)
    pid = os.fork()
    if pid == 0:  # the child: one pytest run, then exit without running the server's cleanup
        code = 3
        try:
            os.chdir(cwd)
            sys.path.insert(0, cwd)
            os.dup2(out.fileno(), 1)
            os.dup2(out.fileno(), 2)
            import pytest

            code = int(pytest.main(args))
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
            os._exit(code)
    deadline = time.monotonic() + timeout + 30  # cosmic-ray's own timeout comes first and is reported as such
    while True:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            code = os.waitstatus_to_exitcode(status)
            break
        # a client stopped by cosmic-ray's timeout: stop its run too, or it would delay the next mutant
        if time.monotonic() > deadline or not _alive(client_pid):
            os.kill(pid, 9)
            os.waitpid(pid, 0)
            code = -9
            break
        time.sleep(0.05)
    out.close()
    text = Path(out.name).read_text(errors="replace")
    os.unlink(out.name)
    return {"code": code, "output": text[-20000:]}


def client(sock_path: str, timeout: float, args: list[str]) -> int:
    """The test command cosmic-ray runs per mutant when the fork server is on: pytest ``args`` run by the
    server, its output printed, its exit code returned."""
    conn = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        conn.connect(sock_path)
    except OSError:  # no server: run pytest here rather than report a failure (a false "killed")
        os.execv(sys.executable, [sys.executable, "-m", "pytest", *args])
    conn.sendall(json.dumps({"cwd": os.getcwd(), "args": args, "timeout": timeout, "client": os.getpid()}).encode())
    conn.shutdown(socket.SHUT_WR)
    reply = json.loads(_read_all(conn))
    print(reply["output"])
    return 1 if reply["code"] == -9 else reply["code"]


def copy_tree(dest: Path) -> None:
    """The tracked and untracked (not ignored) files of the working tree, as they are now."""
    files = subprocess.run(["git", "ls-files", "-co", "--exclude-standard", "-z"], cwd=ROOT, check=True,
                           capture_output=True).stdout.decode().split("\0")
    for name in filter(None, files):
        src = ROOT / name
        if src.is_file():
            (dest / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dest / name)


def config(module: str, tests: list[str], timeout: float, full: bool, sock: Path | None = None) -> str:
    pytest_args = ["-x", "-q", "-p", "no:cacheprovider", *tests]
    if sock is None:
        command = " ".join([sys.executable, "-m", "pytest", *pytest_args])
    else:
        command = " ".join([sys.executable, str(Path(__file__).resolve()), "--client", str(sock),
                            "--timeout", str(timeout), "--", *pytest_args])
    lines = [
        "[cosmic-ray]",
        f"module-path = {json.dumps(module)}",
        f"timeout = {timeout}",
        "excluded-modules = []",
        f"test-command = {json.dumps(command)}",
        "[cosmic-ray.distributor]",
        'name = "local"',
        "[cosmic-ray.filters.operators-filter]",
        f"exclude-operators = {json.dumps([] if full else NOISY_OPERATORS)}",
    ]
    return "\n".join(lines) + "\n"


def cosmic(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    exe = Path(sys.executable).parent
    tool = exe / args[0] if (exe / args[0]).exists() else Path(shutil.which(args[0]) or args[0])
    return subprocess.run([str(tool), *args[1:]], cwd=cwd, check=True, capture_output=True, text=True)


def score(session: Path, cwd: Path) -> dict:
    dump = cosmic("cosmic-ray", "dump", str(session), cwd=cwd).stdout
    killed, survived, other, survivors = 0, 0, 0, []
    for line in dump.splitlines():
        job, result = json.loads(line)
        if not result:
            other += 1
            continue
        if result.get("worker_outcome") == "skipped":
            continue  # left out by the operator filter or the sample
        if result.get("worker_outcome") != "normal":
            other += 1  # a timeout or a crash of the worker: counted as neither
            continue
        if result.get("test_outcome") == "killed" and (result.get("output") or "").strip() == "timeout":
            other += 1  # cosmic-ray counts a timeout as killed; it says nothing about the tests
        elif result.get("test_outcome") == "killed":
            killed += 1
        elif result.get("test_outcome") == "survived":
            survived += 1
            m = job["mutations"][0]
            survivors.append(f"{m['module_path']}:{m['start_pos'][0]} {m['operator_name']} "
                             f"#{m['occurrence']}\n{result.get('diff') or ''}")
        else:
            other += 1
    total = killed + survived
    return {"killed": killed, "survived": survived, "other": other,
            "score": round(100 * killed / total, 1) if total else None, "survivors": survivors}


SAMPLE_MARK = "Not in the sample"


def take_sample(session: Path, size: int, seed: int) -> None:
    """Keep a seeded random ``size`` of the not-yet-filtered mutants; mark the others skipped (the same
    way cosmic-ray's filters do), so ``exec`` runs only the sample and a resumed run keeps it."""
    with sqlite3.connect(session) as conn:
        # drawn from the mutants in the order of their place in the code, not of their job ids: those are
        # random UUIDs made by ``cosmic-ray init``, so sorting by them drew another sample in every new
        # session of the same module and seed
        pending = [job for (job,) in conn.execute(
            "SELECT w.job_id FROM work_items w JOIN mutation_specs s ON s.job_id = w.job_id"
            " WHERE w.job_id NOT IN (SELECT job_id FROM work_results)"
            " ORDER BY s.module_path, s.start_pos_row, s.start_pos_col, s.end_pos_row, s.end_pos_col,"
            " s.operator_name, s.occurrence, s.operator_args")]
        keep = set(random.Random(seed).sample(pending, min(size, len(pending))))
        conn.executemany("INSERT INTO work_results (worker_outcome, output, test_outcome, diff, job_id) "
                         "VALUES ('SKIPPED', ?, NULL, NULL, ?)",
                         [(SAMPLE_MARK, job) for job in pending if job not in keep])


def sample_info(session: Path) -> tuple[int, int]:
    """(mutants left out of the sample, mutants after the operator filter)."""
    with sqlite3.connect(session) as conn:
        total = conn.execute("SELECT count(*) FROM work_items").fetchone()[0]
        filtered = conn.execute("SELECT count(*) FROM work_results WHERE output = 'Filtered operator'").fetchone()[0]
        left_out = conn.execute("SELECT count(*) FROM work_results WHERE output = ?", (SAMPLE_MARK,)).fetchone()[0]
    return left_out, total - filtered


def run(module: str, out: Path, timeout: float, full: bool, scratch: Path, sample: int | None, seed: int,
        sock: Path | None, rerun_survivors: bool = False) -> dict:
    tests = MODULE_TESTS[module]
    cfg = scratch / "cosmic-ray.toml"
    cfg.write_text(config(module, tests, timeout, full, sock))
    session = out / (module.replace("/", "__").removesuffix(".py") + (".full" if full else "")
                     + (f".sample{sample}-seed{seed}" if sample else "") + ".sqlite")
    if not session.exists():
        cosmic("cosmic-ray", "init", str(cfg), str(session), cwd=scratch)
        cosmic("cr-filter-operators", str(session), str(cfg), cwd=scratch)
        if sample:
            take_sample(session, sample, seed)
    elif rerun_survivors:  # after new tests: run again only the mutants that survived last time
        with sqlite3.connect(session) as conn:
            gone = conn.execute("DELETE FROM work_results WHERE test_outcome = 'SURVIVED'").rowcount
        print(f"{module}: running the {gone} survivor(s) of the last run again", flush=True)
    left_out, candidates = sample_info(session)
    print(f"{module}: {len(tests)} test file(s); {candidates - left_out} of {candidates} mutants "
          f"(resumable)...", flush=True)
    cosmic("cosmic-ray", "exec", str(cfg), str(session), cwd=scratch)
    result = score(session, scratch)
    result["sampled"] = f"sampled {candidates - left_out} of {candidates}" if left_out else f"all {candidates}"
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("modules", nargs="*", help="module paths, as listed by --list")
    parser.add_argument("--list", action="store_true", help="list the modules and their test files")
    parser.add_argument("--full", action="store_true", help="every operator (about three times the mutants)")
    parser.add_argument("--timeout", type=float, default=300.0, help="seconds before a mutant's run is abandoned")
    parser.add_argument("--sample", type=int, help="run only a seeded random sample of this many mutants")
    parser.add_argument("--seed", type=int, default=1, help="the sample's seed (default 1)")
    parser.add_argument("--rerun-survivors", action="store_true",
                        help="run again only the last run's survivors (after adding tests; same session)")
    parser.add_argument("--no-fork-server", action="store_true",
                        help="start a fresh `python -m pytest` per mutant (slower; the fork server is the default)")
    parser.add_argument("--serve", metavar="SOCKET", help=argparse.SUPPRESS)
    parser.add_argument("--client", metavar="SOCKET", help=argparse.SUPPRESS)
    parser.add_argument("--out", type=Path, default=ROOT / ".mutation", help="where sessions are kept")
    argv = sys.argv[1:] if argv is None else argv
    pytest_args = argv[argv.index("--") + 1:] if "--" in argv else []
    args = parser.parse_args(argv[:argv.index("--")] if "--" in argv else argv)
    if args.serve:
        return serve(args.serve)
    if args.client:
        return client(args.client, args.timeout, pytest_args)
    if args.list or not args.modules:
        for module, tests in MODULE_TESTS.items():
            print(module, "<-", ", ".join(tests))
        return 0
    unknown = [m for m in args.modules if m not in MODULE_TESTS]
    if unknown:
        parser.error(f"no test mapping for {', '.join(unknown)}: add it to MODULE_TESTS")
    args.out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="trellis-mutation-") as tmp:
        scratch = Path(tmp)
        copy_tree(scratch)
        os.environ.pop("TRELLIS_TEST_DATABASE_URL", None)  # mutants run on SQLite
        server, sock = None, None
        if not args.no_fork_server:
            sock = scratch / "fork-server.sock"
            # one BLAS thread: a fork of a process with a BLAS thread pool can hang, and the machine is shared
            env = {**os.environ, "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
            server = subprocess.Popen([sys.executable, str(Path(__file__).resolve()), "--serve", str(sock)],
                                      cwd=scratch, env=env)
            while not sock.exists():
                if server.poll() is not None:
                    raise SystemExit("the fork server did not start")
                time.sleep(0.1)
        try:
            results = {m: run(m, args.out.resolve(), args.timeout, args.full, scratch, args.sample, args.seed,
                              sock, args.rerun_survivors) for m in args.modules}
        finally:
            if server is not None:
                server.kill()
                server.wait()
    for module, r in results.items():
        print(f"\n== {module}: score {r['score']}% ({r['killed']} killed, {r['survived']} survived, "
              f"{r['other']} timed out/incompetent; {r['sampled']} mutants)")
        for s in r["survivors"]:
            print("-- survivor:", s)
    return 0


if __name__ == "__main__":
    sys.exit(main())
