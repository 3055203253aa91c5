"""The API keeps to its own /openapi.json: schemathesis generates requests for every operation
from the schema (bounded examples, a valid admin key) against a real `facerec serve`, and every
answer must be no server error, with a documented status code, content type and body.

Run with `-s` for the figures: operations and cases tried, and the status codes seen. (The
operations are walked here rather than with schemathesis' pytest plugin, whose lazy schema
does not run on pytest 9.)"""

from __future__ import annotations

import collections

import pytest
import schemathesis
from cli_run import enrol_people, new_key
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
    enrol_people(url, data)
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
