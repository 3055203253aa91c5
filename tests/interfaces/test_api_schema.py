"""The API keeps to its own /openapi.json: schemathesis generates requests for every operation
from the schema (bounded examples, a valid admin key) against a real `facerec serve`, and every
answer must be no server error, with a documented status code, content type and body.

Run with `-s` for the figures: operations and cases tried, and the status codes seen. (The
operations are walked here rather than with schemathesis' pytest plugin, whose lazy schema
does not run on pytest 9.)"""

from __future__ import annotations

import base64
import collections
import json
import re
import subprocess
import sys
import unicodedata
from pathlib import Path

import pytest
import schemathesis
from cli_run import enroll_people, new_key
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)
from server_process import ServerProcess

pytestmark = pytest.mark.slow  # pytest -m "not slow" leaves it out (docs/setup.md)

EXAMPLES = 12  # per operation: about 400 cases over the operations, a minute or two on 2 cores
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]
STREAMS = {"/v1/events/stream"}  # endless: test_web.py and test_server.py read it


def test_every_operation_answers_as_its_schema_says(tmp_path, data):
    url = f"sqlite:///{tmp_path / 'store.db'}"
    enroll_people(url, data)
    key = new_key(url, "fuzzer")
    server = ServerProcess(url, log=tmp_path / "server.log")
    seen: collections.Counter = collections.Counter()
    failures: list[str] = []
    try:
        schema = schemathesis.openapi.from_url(f"{server.url}/openapi.json")
        operations = [result.ok() for result in schema.get_all_operations()]
        tested = [op for op in operations if op.path not in STREAMS]
        assert len(tested) >= 29

        def checked(operation):
            @settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
            @given(case=operation.as_strategy())
            def answers(case):
                try:
                    response = case.call_and_validate(
                        base_url=server.url, headers={"X-API-Key": key}, checks=CHECKS, timeout=60
                    )
                except Exception as exc:  # schemathesis' failure groups: collected, reported together
                    failures.append(f"{operation.method.upper()} {operation.path}: {exc}")
                    raise
                seen[(operation.method.upper(), response.status_code)] += 1

            return answers

        for operation in tested:
            try:
                checked(operation)()
            except Exception as exc:
                if not failures or operation.path not in failures[-1]:
                    failures.append(f"{operation.method.upper()} {operation.path}: {type(exc).__name__}: {exc}")
    finally:
        server.stop()
    statuses = collections.Counter()
    for (_method, status), count in seen.items():
        statuses[status] += count
    cases = sum(seen.values())
    print(f"\nschemathesis: {len(tested)} operations, {cases} cases, status codes {dict(sorted(statuses.items()))}")
    assert not failures, "\n\n".join(failures[:10])
    assert statuses[500] == 0 and sum(seen.values()) >= 5 * len(tested)


# What `schemathesis run --checks all` may report, each for a reason the schema documents:
DOCUMENTED = {
    # a schema cannot say "a photo with a face": random bytes are refused for their content
    "image content": (
        "ST202",
        re.compile(
            r"not an image|not valid base64|no face found|cannot be decoded|missing image field|one face"
            r"|no face in the clip was good enough"
        ),
    ),
    # nor which dates a calendar has ("2026-02-30", year 1 moved by an offset): 422 a bad value
    "a date that is not one": ("ST202", re.compile(r"takes an ISO 8601 date|must lie between|is before|future")),
    # nor Unicode categories: format, surrogate, private and unassigned characters are refused too
    "text beyond the pattern": ("ST202", re.compile(r"cannot contain control characters \(U\+([0-9A-F]+)")),
    # nor which hosts are public: a webhook to a private name or address needs an admin's allow-host
    "a private webhook host": (
        "ST202",
        re.compile(r"is a private|resolves to the private address|cannot resolve|not a URL|names no host"),
    ),
    # wrong keys past the limit are 429 (documented on every operation that needs a key)
    "wrong keys throttled": ("ST401", re.compile(r"too many wrong API keys")),
    # a person's name may hold "/": /v1/persons/x/samples is also the person "x/samples"
    "a name with a slash": ("ST204", re.compile(r".")),
}


def _failures(events: Path) -> list[tuple[str, str, int, str]]:
    """(check code, operation, status, answer) of each failed check in schemathesis' ndjson events."""
    found = []
    for line in events.read_text().splitlines():
        scenario = json.loads(line).get("ScenarioFinished")
        recorder = scenario["recorder"] if scenario else {}
        for case, checks in recorder.get("checks", {}).items():
            for check in checks:
                failure = (check.get("failure_info") or {}).get("failure")
                if check["status"] != "failure" or not failure:
                    continue
                response = (recorder["interactions"].get(case) or {}).get("response") or {}
                content = response.get("content") or {}
                text = base64.b64decode(content["$base64"]).decode(errors="replace") if "$base64" in content else ""
                found.append((failure["code"], failure["operation"], response.get("status_code", 0), text))
    return found


def _documented(code: str, operation: str, status: int, text: str) -> bool:
    for reason, (expected, pattern) in DOCUMENTED.items():
        match = pattern.search(text)
        if code != expected or not match or status >= 500:
            continue
        if reason == "text beyond the pattern" and unicodedata.category(chr(int(match.group(1), 16))) == "Cc":
            return False  # a control character: the schema's pattern says so, it should not have been sent
        return reason != "a name with a slash" or bool(
            re.search(r"/v1/persons/\{name\}/(samples|images|clip|consent|export)", operation)
        )
    return False


def test_schemathesis_with_every_check_finds_nothing_undocumented(tmp_path, data):
    """`schemathesis run --checks all` (coverage, fuzzing and stateful phases: unsupported methods
    and their Allow header, missing and wrong keys, schema-valid data accepted, schema-violating data
    refused, answers as documented) against a real server: no server error, and nothing the schema
    does not document (DOCUMENTED, each with its reason)."""
    url = f"sqlite:///{tmp_path / 'store.db'}"
    enroll_people(url, data)
    key = new_key(url, "fuzzer", "admin")
    server = ServerProcess(url, log=tmp_path / "server.log")
    events = tmp_path / "events.ndjson"
    command = [
        str(Path(sys.executable).with_name("schemathesis")),
        "run",
        f"{server.url}/openapi.json",
        "--checks=all",
        f"--header=X-API-Key: {key}",
        "--max-examples=10",
        f"--exclude-path={next(iter(STREAMS))}",
        "--generation-deterministic",
        "--request-timeout=60",
        "--max-failures=1000",
        f"--report-ndjson-path={events}",
    ]
    try:
        run = subprocess.run(command, cwd=tmp_path, capture_output=True, text=True, timeout=600)
    finally:
        server.stop()
    assert "Test cases:" in run.stdout, run.stdout[-3000:] + run.stderr[-3000:]
    failures = _failures(events)
    undocumented = [f for f in failures if not _documented(*f)]
    summary = collections.Counter(f[0] for f in failures)
    print(f"\nschemathesis --checks all: {summary.most_common()} (all documented: {not undocumented})")
    assert "generated" in run.stdout and not undocumented, "\n".join(
        f"{code} {operation}: {status} {text[:300]}" for code, operation, status, text in undocumented[:20]
    )
