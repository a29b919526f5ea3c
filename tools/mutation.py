"""Mutation testing by hand (never in CI): cosmic-ray over one service module at a time, each mutant
checked by only the test files that cover that module, so a run is bounded.

    pip install -e '.[dev]'                         # cosmic-ray
    python tools/mutation.py --list                 # the modules it knows and their test files
    python tools/mutation.py core/services/contacts.py [more modules] [--full] [--timeout 300]

The working tree is never touched: the tracked and untracked (not ignored) files are copied to a scratch
directory and mutated there. Every mutant runs ``pytest -x`` on the module's test files; a mutant is
*killed* when a test fails, *survives* when they all pass. By default the operator families that mostly
produce equivalent or duplicate mutants (a ``*`` turned into each of ``<<``, ``>>``, ``**``, ``|``, ...;
``==`` turned into each ordering) are left out, which cuts a module's mutants by about two thirds; pass
``--full`` for all of them. The survivors are printed with their diff; each is a test waiting to be
written (or an equivalent mutant to note). Sessions are kept in ``--out`` (default
``.mutation/``, ignored by git) so an interrupted run resumes where it stopped.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

#: module -> the test files that exercise it (the run uses only these; keep the list honest and short)
MODULE_TESTS: dict[str, list[str]] = {
    # core services
    "core/services/contacts.py": ["tests/api/rest/test_contacts_interactions.py",
                                  "tests/api/rest/test_deleted_customer_records.py",
                                  "tests/api/graphql/test_records.py"],  # Customer.contacts (for_customers)
    "core/services/interactions.py": ["tests/api/rest/test_contacts_interactions.py",
                                      "tests/api/rest/test_deleted_customer_records.py",
                                      "tests/core/test_tasks_ownership.py"],
    "core/services/customers.py": ["tests/api/rest/test_customers.py", "tests/api/rest/test_audit.py",
                                   "tests/api/rest/test_error_mapping.py"],
    "core/services/common.py": ["tests/api/rest/test_customers.py", "tests/api/rest/test_contacts_interactions.py"],
    "core/services/audit.py": ["tests/api/rest/test_audit.py"],
    "core/services/users.py": ["tests/api/rest/test_people.py", "tests/api/test_auth.py"],
    "core/services/people.py": ["tests/api/rest/test_people.py"],
    "core/services/permissions.py": ["tests/api/rest/test_customers.py", "tests/core/test_tasks_ownership.py"],
    "core/services/ownership.py": ["tests/core/test_tasks_ownership.py"],
    "core/services/workflow.py": ["tests/core/test_lifecycle.py", "tests/api/graphql/test_lifecycle_graphql.py"],
    "core/services/notifications.py": ["tests/core/test_lifecycle.py"],
    "core/services/webhooks.py": ["tests/core/test_webhooks.py"],
    "core/services/bulk.py": ["tests/core/test_bulk.py"],
    "core/services/analytics.py": ["tests/core/analytics/test_service.py"],
    # core analytics (pure numerics)
    "core/analytics/rfm.py": ["tests/core/analytics/test_rfm.py", "tests/core/analytics/test_service.py"],
    "core/analytics/value.py": ["tests/core/analytics/test_value_segments.py"],
    "core/analytics/segmentation.py": ["tests/core/analytics/test_value_segments.py"],
    "core/analytics/clv.py": ["tests/core/analytics/test_clv.py"],
    # plugin services
    "plugins/exhibitions/services.py": ["tests/plugins/exhibitions/test_visitors.py",
                                        "tests/plugins/exhibitions/test_participations.py",
                                        "tests/plugins/exhibitions/test_leads.py",
                                        "tests/plugins/exhibitions/test_metrics_and_follow_up.py"],
    "plugins/retail_membership/services.py": ["tests/plugins/retail_membership/test_points.py",
                                              "tests/plugins/retail_membership/test_purchases.py",
                                              "tests/plugins/retail_membership/test_crud.py",
                                              "tests/plugins/retail_membership/test_pos_batch_and_scope.py"],
    "plugins/retail_membership/campaigns.py": ["tests/plugins/retail_membership/test_jobs_and_campaigns.py",
                                               "tests/plugins/retail_membership/test_crud.py"],
    "plugins/property_service/services.py": ["tests/plugins/property_service/test_requests.py",
                                             "tests/plugins/property_service/test_end_to_end.py"],
    "plugins/property_service/workhours.py": ["tests/plugins/property_service/test_workhours.py"],
    "plugins/property_service/sla.py": ["tests/plugins/property_service/test_sla.py"],
}

#: operator families left out unless --full (duplicates of a mutant already made, or equivalent ones)
NOISY_OPERATORS = [
    r"core/ReplaceBinaryOperator_.*_(BitXor|BitAnd|BitOr|LShift|RShift|Pow|FloorDiv|Mod|Div)$",
    r"core/ReplaceBinaryOperator_(BitXor|BitAnd|BitOr|LShift|RShift|Pow|FloorDiv|Mod|Div)_.*",
    r"core/ReplaceComparisonOperator_(Eq|NotEq)_(Gt|GtE|Lt|LtE|Is|IsNot)$",
    r"core/ReplaceComparisonOperator_(Is|IsNot)_(Gt|GtE|Lt|LtE|Eq|NotEq)$",
]


def copy_tree(dest: Path) -> None:
    """The tracked and untracked (not ignored) files of the working tree, as they are now."""
    files = subprocess.run(["git", "ls-files", "-co", "--exclude-standard", "-z"], cwd=ROOT, check=True,
                           capture_output=True).stdout.decode().split("\0")
    for name in filter(None, files):
        src = ROOT / name
        if src.is_file():
            (dest / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dest / name)


def config(module: str, tests: list[str], timeout: float, full: bool) -> str:
    command = " ".join([sys.executable, "-m", "pytest", "-x", "-q", "-p", "no:cacheprovider", *tests])
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
        if result.get("worker_outcome") != "normal":
            other += 1  # a timeout or a crash of the worker: counted as neither
            continue
        if result.get("test_outcome") == "killed":
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


def run(module: str, out: Path, timeout: float, full: bool, scratch: Path) -> dict:
    tests = MODULE_TESTS[module]
    cfg = scratch / "cosmic-ray.toml"
    cfg.write_text(config(module, tests, timeout, full))
    session = out / (module.replace("/", "__").removesuffix(".py") + (".full" if full else "") + ".sqlite")
    if not session.exists():
        cosmic("cosmic-ray", "init", str(cfg), str(session), cwd=scratch)
        cosmic("cr-filter-operators", str(session), str(cfg), cwd=scratch)
    print(f"{module}: {len(tests)} test file(s); running the mutants (resumable)...", flush=True)
    cosmic("cosmic-ray", "exec", str(cfg), str(session), cwd=scratch)
    return score(session, scratch)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("modules", nargs="*", help="module paths, as listed by --list")
    parser.add_argument("--list", action="store_true", help="list the modules and their test files")
    parser.add_argument("--full", action="store_true", help="every operator (about three times the mutants)")
    parser.add_argument("--timeout", type=float, default=300.0, help="seconds before a mutant's run is abandoned")
    parser.add_argument("--out", type=Path, default=ROOT / ".mutation", help="where sessions are kept")
    args = parser.parse_args(argv)
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
        results = {m: run(m, args.out.resolve(), args.timeout, args.full, scratch) for m in args.modules}
    for module, r in results.items():
        print(f"\n== {module}: score {r['score']}% ({r['killed']} killed, {r['survived']} survived, "
              f"{r['other']} timed out/incompetent)")
        for s in r["survivors"]:
            print("-- survivor:", s)
    return 0


if __name__ == "__main__":
    sys.exit(main())
