"""Property-based run of schemathesis against the OpenAPI description (bounded: a few examples per operation).

Every operation is called as an operator (token and CSRF header) with generated parameters and bodies; no
response may be a server error, and each must match the documented status codes, content types and schemas.
``positive_data_acceptance`` is left out: some rules cannot be written in OpenAPI (an XML body must be a job
order, a time window must be ordered, a bbox must hold four numbers), so a schema-valid request may be a 422.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings

from viq_api_support import Api, Seed, open_api, seed, worker_env
from viq_host.api.app import create_app
from viq_host.config import Settings
from viq_host.testing.harness import harness_settings

STREAMS = {"GET /api/jobs/events"}
"""Event streams last up to minutes by design; test_api_jobs follows one (and security tests its 401)."""
OPERATIONS = sorted(
    label
    for path, ops in create_app(Settings(home=Path("/nonexistent/viq"))).openapi()["paths"].items()
    for method in ops
    if (label := f"{method.upper()} {path}") not in STREAMS
)
EXAMPLES = 12


@pytest.fixture(scope="module")
def st_api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Api, Seed]]:
    """A seeded installation of its own (the run writes: cancels, promotions, evidence)."""
    with pytest.MonkeyPatch.context() as mp:
        worker_env(mp)
        with open_api(harness_settings(tmp_path_factory.mktemp("schemathesis"))) as api:
            yield api, seed(api)


@pytest.fixture(scope="module")
def st_schema(st_api: tuple[Api, Seed]) -> schemathesis.BaseSchema:
    """The running app's own OpenAPI description, loaded over ASGI."""
    return schemathesis.openapi.from_asgi("/openapi.json", st_api[0].client.app)


def test_every_operation_is_covered() -> None:
    """The run below covers the whole API (a new route is fuzzed without editing this file)."""
    assert len(OPERATIONS) >= 30 and "POST /api/jobs" in OPERATIONS and "GET /api/products" in OPERATIONS


@pytest.mark.parametrize("label", OPERATIONS)
def test_operation_conforms_to_the_openapi(
    label: str, st_schema: schemathesis.BaseSchema, st_api: tuple[Api, Seed]
) -> None:
    """No generated request to this operation makes a server error; responses match the description."""
    api, _ = st_api
    [operation] = [r.ok() for r in st_schema.get_all_operations() if r.ok().label == label]
    headers = api.headers("operator", write=True)

    @given(case=operation.as_strategy())
    @settings(max_examples=EXAMPLES, deadline=None, derandomize=True, database=None,
              suppress_health_check=list(HealthCheck))
    def run(case: schemathesis.Case) -> None:
        case.headers = {**(case.headers or {}), **headers}
        case.call_and_validate(excluded_checks=[schemathesis.checks.positive_data_acceptance])

    run()
