"""The README's "What to try first": its three requests, read from README.md itself, sent to the demo data
(loaded by the code path ``trellis demo`` uses) and checked against the answers the README shows.

The README shows each answer as an HTTP response with ``…`` where it leaves things out: the status must be
the same, each header shown must have the value shown, and the body shown must be contained in the body
sent (an object's keys a subset, a list's items found in order). Only the core's data set is loaded:
the requests ask about software companies, which only the core's demo has, so the answers are those of
the full demo too (and the test stays quick)."""
from __future__ import annotations

import json
import random
import re
import shlex
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

README = Path(__file__).parents[1] / "README.md"


def section(text: str, title: str) -> str:
    start = text.index(f"## {title}\n")
    end = text.find("\n## ", start + 1)
    return text[start:end if end != -1 else None]


def fenced(text: str) -> list[tuple[str, str]]:
    """The fenced blocks of ``text``: (language, content)."""
    return re.findall(r"^```(\w*)\n(.*?)^```$", text, flags=re.S | re.M)


def readme_requests() -> list[tuple[list[str], str]]:
    """Each ``curl`` command of "What to try first" (as argv) with the ``http`` block after it."""
    blocks = fenced(section(README.read_text(), "What to try first"))
    pairs = []
    for (lang, content), (next_lang, answer) in zip(blocks, blocks[1:]):
        if lang == "console" and "curl " in content and next_lang == "http":
            command = content.replace("\\\n", " ").strip().removeprefix("$ ")
            pairs.append((shlex.split(command), answer))
    return pairs


def curl(client, argv: list[str], token: str):
    """Send what a ``curl`` command line sends, through the test client."""
    assert argv[0] == "curl"
    headers, data, url, args = {}, None, None, iter(argv[1:])
    for arg in args:
        if arg == "-H":
            name, value = next(args).split(":", 1)
            headers[name.strip()] = value.strip().replace("$TOKEN", token)
        elif arg == "-d":
            data = next(args)
        elif arg.startswith("-"):
            assert arg in ("-s", "-si", "-i"), f"curl option {arg} not understood by this test"
        else:
            url = urlsplit(arg)
    path = url.path + (f"?{url.query}" if url.query else "")
    if data is None:
        return client.get(path, headers=headers)
    return client.post(path, data=data.encode(), headers=headers)


def parse_answer(answer: str) -> tuple[int, dict[str, str], Any]:
    """An ``http`` block: status, headers shown, and the body shown (``…`` elisions dropped)."""
    head, _, body = answer.partition("\n\n")
    status_line, *header_lines = head.strip().splitlines()
    status = int(status_line.split()[1])
    headers = dict(line.split(": ", 1) for line in header_lines)
    body = re.sub(r",\s*…", "", body)
    return status, headers, json.loads(body) if body.strip() else None


def contained(shown: Any, sent: Any, where: str = "body") -> None:
    """``shown`` is in ``sent``: an object's keys with contained values, a list's items in order."""
    if isinstance(shown, dict):
        assert isinstance(sent, dict), f"{where}: expected an object, got {sent!r}"
        for key, value in shown.items():
            assert key in sent, f"{where}: no {key!r} in {sorted(sent)}"
            contained(value, sent[key], f"{where}.{key}")
    elif isinstance(shown, list):
        assert isinstance(sent, list), f"{where}: expected a list, got {sent!r}"
        rest = iter(enumerate(sent))
        for n, item in enumerate(shown):
            for _, candidate in rest:
                try:
                    contained(item, candidate, f"{where}[{n}]")
                    break
                except AssertionError:
                    continue
            else:
                raise AssertionError(f"{where}: {item!r} not found (in order) in {sent!r}")
    else:
        assert shown == sent, f"{where}: README shows {shown!r}, the demo answers {sent!r}"


def test_the_readme_shows_three_requests_a_rest_a_graphql_and_a_metric():
    paths = [urlsplit(next(a for a in argv if a.startswith("http"))).path for argv, _ in readme_requests()]
    assert paths == ["/api/v1/customers", "/graphql", "/api/v1/metrics/revenue"]


def test_the_readme_requests_answer_what_the_readme_shows(runtime, client):
    from core import demo
    from core.services import users

    with runtime.database.unit_of_work():  # the core's data set, as ``trellis demo`` loads it
        summary = demo.load_demo(runtime, random.Random(demo.SEED), plugins=False)
        _, token = users.create_token(demo.demo_admin(), "readme")
    # the README's table of data sets states what the core's loads
    row = next(line for line in README.read_text().splitlines() if line.strip().startswith("| `core` |"))
    numbers = [int(n) for n in re.findall(r"\b(\d+) (?:customers|contacts|calls|open tasks|requests)", row)]
    assert numbers == [summary.customers, summary.contacts, summary.interactions, summary.tasks,
                       summary.approvals_pending]

    requests = readme_requests()
    assert len(requests) == 3
    for argv, answer in requests:
        status, headers, body = parse_answer(answer)
        response = curl(client, argv, token)
        assert response.status_code == status, (argv, response.get_json())
        for name, value in headers.items():
            contained(json.loads(value), json.loads(response.headers[name]), name)
        if body is not None:
            contained(body, response.get_json())
