"""Follow docs/deployment.md on a clean virtualenv, as an integrator would, and fail where the doc is wrong.

Run by .ci/run with the virtualenv it installed trellis-crm into (pip, not editable). Standard library only.
The doc is read, not paraphrased: the environment file is section 2's ``sh`` block (its secret placeholder
replaced by a fresh key, the database URL by a scratch database), the processes are the ``ExecStart`` lines
of the two systemd units (the virtualenv path and the port swapped), and the webhook receiver verifies
signatures with the function docs/webhooks.md gives receivers. Then:

- ``trellis config check``, ``trellis db upgrade``, ``trellis users create``, ``trellis tokens create``;
- the web unit's gunicorn and two worker units; ``/healthz`` and ``/readyz`` (with
  ``TRELLIS_WORKERS_EXPECTED=1``, as section 5 says to set once workers run) answer 200;
- three customers created over REST reach the receiver once each, signed, with the delay printed;
- SIGTERM stops a worker cleanly (exit 0, "stopped" logged);
- ``trellis db backup``, a restore into a second database, ``trellis db scrub`` as the doc shows it,
  ``trellis db check`` on the copy; the copy's subscription is switched off.

    python3 .ci/deployment_check.py --venv VENV [--database-url postgresql://postgres@127.0.0.1:5432/test]
"""
from __future__ import annotations

import argparse
import http.server
import json
import os
import re
import secrets
import shlex
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEPLOYMENT = ROOT / "docs" / "deployment.md"
WEBHOOKS = ROOT / "docs" / "webhooks.md"


def fail(message: str) -> None:
    print(f"\nDEPLOYMENT CHECK FAILED: {message}", file=sys.stderr, flush=True)
    raise SystemExit(1)


def block_after(text: str, heading: str, fence: str) -> str:
    """The first fenced block of kind ``fence`` (``sh``, ``ini``, ``python``) after ``heading``."""
    start = text.find(heading)
    if start < 0:
        fail(f"no '{heading}' in the docs")
    found = re.search(rf"```{fence}\n(.*?)```", text[start:], re.S)
    if not found:
        fail(f"no ```{fence} block after '{heading}'")
    return found.group(1)


def environment_file(database_url: str) -> dict[str, str]:
    """Section 2's environment file, with a real secret and the scratch database."""
    env = {}
    for line in block_after(DEPLOYMENT.read_text(), "## 2. Configure", "sh").splitlines():
        if line.strip() and not line.startswith("#"):
            key, _, value = line.partition("=")
            env[key] = value
    if not env.get("TRELLIS_SECRET_KEY", "").startswith("<"):
        fail("section 2's TRELLIS_SECRET_KEY is no longer a placeholder: check what the doc tells people to set")
    env["TRELLIS_SECRET_KEY"] = secrets.token_hex(32)
    env["TRELLIS_DATABASE_URL"] = database_url
    env["TRELLIS_WORKERS_EXPECTED"] = "1"                   # section 5: set once the workers run
    env["TRELLIS_WEBHOOK_ALLOW_PRIVATE_TARGETS"] = "1"      # the receiver is on loopback (docs/webhooks.md)
    return env


def unit(name: str) -> tuple[list[str], dict[str, str]]:
    """A systemd unit's ExecStart (as argv) and its Environment= settings."""
    source = DEPLOYMENT.read_text()
    start = source.find(f"# /etc/systemd/system/{name}")
    if start < 0:
        fail(f"docs/deployment.md has no unit {name}")
    text = source[start:source.find("```", start)]
    command = re.search(r"^ExecStart=(.+)$", text, re.M)
    if not command:
        fail(f"unit {name} has no ExecStart")
    extra = dict(setting.split("=", 1) for setting in re.findall(r"^Environment=(\S+=\S*)$", text, re.M))
    if not re.search(r"^Restart=(always|on-failure)$", text, re.M):
        fail(f"unit {name} does not restart its process (Restart=)")
    return shlex.split(command.group(1)), extra


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def receiver():
    """An HTTP receiver that checks each delivery with docs/webhooks.md's own verification function."""
    namespace: dict = {}
    exec(block_after(WEBHOOKS.read_text(), "## Verifying the signature", "python"), namespace)  # noqa: S102
    verify = namespace["verify_trellis_signature"]
    state = {"secret": "", "seen": []}

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_POST(self):
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            valid = verify(state["secret"], self.headers.get("X-Trellis-Signature", ""), body)
            state["seen"].append((time.monotonic(), self.headers.get("X-Trellis-Event"),
                                  self.headers.get("X-Trellis-Delivery"), valid, json.loads(body)))
            self.send_response(204 if valid else 400)
            self.end_headers()

        def log_message(self, *_):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, state


def request(url: str, token: str | None = None, body: dict | None = None, method: str | None = None):
    headers = {"Content-Type": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    req = urllib.request.Request(url, data=json.dumps(body).encode() if body is not None else None,
                                 headers=headers, method=method)
    try:
        with urllib.request.urlopen(req, timeout=30) as response:
            return response.status, json.loads(response.read() or b"null")
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode(errors="replace")
    except OSError as error:
        return None, str(error)


def wait_for(what: str, check, seconds: float = 90):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        result = check()
        if result:
            return result
        time.sleep(0.5)
    fail(f"{what} (waited {seconds:.0f} s)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--venv", required=True, type=Path)
    parser.add_argument("--database-url", default="postgresql://postgres@127.0.0.1:5432/test")
    args = parser.parse_args()
    bin_dir = args.venv.resolve() / "bin"
    base = args.database_url.rsplit("/", 1)[0]
    names = [f"trellis_deploy_check_{os.getpid()}", f"trellis_deploy_check_{os.getpid()}_restored"]
    work = Path(tempfile.mkdtemp(prefix="trellis-deploy-"))
    processes: list[subprocess.Popen] = []

    def psql(sql: str) -> None:
        subprocess.run(["psql", "-q", "-d", args.database_url, "-c", sql], check=True)

    for name in names:
        psql(f'DROP DATABASE IF EXISTS "{name}"')
        psql(f'CREATE DATABASE "{name}"')
    env = {**os.environ, **environment_file(f"{base}/{names[0]}")}
    env["PATH"] = f"{bin_dir}:{env['PATH']}"
    env.pop("TRELLIS_TEST_DATABASE_URL", None)

    def trellis(*argv: str, extra: dict | None = None, ok: bool = True) -> str:
        done = subprocess.run([str(bin_dir / "trellis"), *argv], env={**env, **(extra or {})}, cwd=work,
                              capture_output=True, text=True)
        if ok and done.returncode != 0:
            fail(f"trellis {' '.join(argv)} exited {done.returncode}:\n{done.stdout}{done.stderr}")
        return done.stdout

    try:
        print("section 2-3: config check, db upgrade, first admin, a token", flush=True)
        trellis("config", "check")
        print(trellis("db", "upgrade").strip())
        trellis("users", "create", "you@example.com", "--role", "admin", "--name", "Deployment check",
                "--password", secrets.token_urlsafe(16))
        token = trellis("tokens", "create", "you@example.com", "--name", "deployment check").strip().splitlines()[-1]

        port = free_port()
        web, web_env = unit("trellis.service")
        worker, worker_env = unit("trellis-worker@.service")

        def localised(argv: list[str]) -> list[str]:
            return [part.replace("/srv/trellis/.venv/bin", str(bin_dir)).replace("127.0.0.1:8000", f"127.0.0.1:{port}")
                    for part in argv]

        print(f"section 4-5: {' '.join(localised(web))}; two workers: {' '.join(localised(worker))}", flush=True)
        logs = {name: open(work / f"{name}.log", "w") for name in ("web", "worker1", "worker2")}
        processes.append(subprocess.Popen(localised(web), env={**env, **web_env}, cwd=work,
                                          stdout=logs["web"], stderr=subprocess.STDOUT))
        for name in ("worker1", "worker2"):
            processes.append(subprocess.Popen(localised(worker), env={**env, **worker_env}, cwd=work,
                                              stdout=logs[name], stderr=subprocess.STDOUT))
        url = f"http://127.0.0.1:{port}"
        wait_for("/healthz never answered 200", lambda: request(f"{url}/healthz")[0] == 200)
        wait_for("/readyz never answered 200 with the workers running",
                 lambda: request(f"{url}/readyz")[0] == 200)
        print("/healthz and /readyz: 200", flush=True)

        server, state = receiver()
        status, subscription = request(f"{url}/api/v1/webhooks", token, {
            "url": f"http://127.0.0.1:{server.server_address[1]}/hook", "events": ["customer.*"]})
        if status != 201:
            fail(f"POST /api/v1/webhooks: {status} {subscription}")
        state["secret"] = subscription["secret"]
        sent = {}
        for i in range(3):
            status, customer = request(f"{url}/api/v1/customers", token, {"name": f"部署检查 {i} 有限公司"})
            if status != 201:
                fail(f"POST /api/v1/customers: {status} {customer}")
            sent[customer["id"]] = time.monotonic()
        wait_for("the three customer.created deliveries did not all arrive",
                 lambda: len({s[2] for s in state["seen"]}) >= 3, seconds=60)
        time.sleep(3)   # a duplicate (two workers sending one delivery) would arrive meanwhile
        seen = state["seen"]
        if not all(valid for *_, valid, _ in seen):
            fail("a delivery's signature did not verify with docs/webhooks.md's function")
        if len(seen) != 3 or len({s[2] for s in seen}) != 3:
            fail(f"expected each of 3 deliveries exactly once, got {[(s[1], s[2]) for s in seen]}")
        delays = sorted(at - sent[payload["record_id"]] for at, _, _, _, payload in seen)
        print(f"webhooks: 3 deliveries, each once, signatures valid; {delays[0]:.1f}–{delays[-1]:.1f} s after "
              f"the response", flush=True)

        processes[1].send_signal(signal.SIGTERM)
        try:
            code = processes[1].wait(timeout=60)
        except subprocess.TimeoutExpired:
            fail("a worker did not stop within 60 s of SIGTERM")
        logs["worker1"].flush()
        if code != 0 or "stopped" not in (work / "worker1.log").read_text():
            fail(f"a worker stopped by SIGTERM exited {code}:\n{(work / 'worker1.log').read_text()[-2000:]}")
        print("SIGTERM: the worker finished its jobs and exited 0", flush=True)

        dump = work / "trellis.dump"
        trellis("db", "backup", str(dump))
        copy = {"TRELLIS_DATABASE_URL": f"{base}/{names[1]}"}
        trellis("db", "restore", str(dump), "--yes", extra=copy)
        # the doc's scrub command, with the copy's environment as the doc gives it
        scrub = re.search(r"^\$ (.*trellis db scrub --yes)$", DEPLOYMENT.read_text(), re.M)
        if not scrub:
            fail("docs/deployment.md shows no 'trellis db scrub --yes' command")
        overrides = dict(part.split("=", 1) for part in shlex.split(scrub.group(1))[:-4])
        if "TRELLIS_DATABASE_URL" not in overrides:
            fail("the doc's scrub command does not name the copy's database")
        scrubbed = trellis("db", "scrub", "--yes", extra={**overrides, **copy})
        if "1 webhook subscription(s) switched off" not in scrubbed:
            fail(f"trellis db scrub did not switch the copy's subscription off:\n{scrubbed}")
        trellis("db", "check", extra=copy)
        print("backup, restore into a second database, scrub, db check: ok", flush=True)
        print("\nDeployment check passed: docs/deployment.md works as written.", flush=True)
    finally:
        for process in processes:
            if process.poll() is None:
                process.terminate()
        for process in processes:
            try:
                process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                process.kill()
        if sys.exc_info()[0] is not None:
            for log in sorted(work.glob("*.log")):
                print(f"--- {log.name} (last lines)\n{log.read_text()[-3000:]}", file=sys.stderr)
        for name in names:
            subprocess.run(["psql", "-q", "-d", args.database_url, "-c", f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'],
                           check=False)


if __name__ == "__main__":
    main()
