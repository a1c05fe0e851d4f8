"""The property-based part of the suite: schemathesis over the contract's operations.

For each SPI operation of the document, schemathesis generates requests from its schemas (N valid ones and
N invalid ones), sends them with the POS credential, and runs all of its default checks on each answer
(no server error, documented status, response schema, content type, headers, invalid data rejected, valid
data accepted, credentials not ignored, ...). One result per operation.

Two settings differ from schemathesis' defaults. A schema-valid request may be answered 400: the contract
lists 400 for every route, and rules no schema can state make it the right answer (a consent or option id
that the catalogue does not have, a required additional option left out, a member number already taken).
And 501 is not a server error where the contract documents it (`/lookup_customers` of a CRM without
person lookup); elsewhere an undocumented 501 still fails the status code check.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import seed as hypothesis_seed
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode

from .openapi import Document

POSITIVE_DATA_ACCEPTED = ["2xx", "3xx", "400", "401", "403", "404", "409", "429", "5xx"]
NOT_A_SERVER_ERROR = ["2xx", "3xx", "4xx", "501"]  # 501: lookup, where the CRM has none (documented)


@dataclass
class OperationResult:
    label: str
    examples: int = 0
    failures: dict[str, str] = field(default_factory=dict)  # failure title -> details with a curl to reproduce
    notes: list[str] = field(default_factory=list)
    seconds: float = 0.0


def run(document: Document, base_url: str, auth: tuple[str, str], examples: int, seed: int | None = None,
        scope: str = "spi") -> list[OperationResult]:
    config = schemathesis.Config.from_dict({
        "checks": {"positive_data_acceptance": {"expected-statuses": POSITIVE_DATA_ACCEPTED},
                   "not_a_server_error": {"expected-statuses": NOT_A_SERVER_ERROR}},
        # Credentials stay hidden in the curl lines of a failure; `key` and `key_type` (search) are shown.
        "output": {"sanitization": {"sensitive-markers": ["token", "secret", "password", "passwd", "auth",
                                                          "credential", "session"]}},
    })
    schema = schemathesis.openapi.from_dict(document.scoped(scope), config=config)
    schema.config.update(base_url=base_url.rstrip("/"), basic_auth=tuple(auth), request_timeout=10)
    results = []
    for loaded in schema.get_all_operations():
        operation = loaded.ok()
        result = OperationResult(operation.label)
        started = time.monotonic()
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            _run_mode(operation, mode, examples, seed, result)
        result.seconds = time.monotonic() - started
        results.append(result)
    return results


def _run_mode(operation, mode, examples: int, seed: int | None, result: OperationResult) -> None:
    def exercise(case):
        result.examples += 1
        try:
            case.call_and_validate()
        except BaseExceptionGroup as group:  # schemathesis' FailureGroup: every check that failed on this case
            for failure in group.exceptions:
                result.failures.setdefault(getattr(failure, "title", type(failure).__name__), str(group))
        except Exception as error:  # the transport: no answer at all
            result.failures.setdefault(f"No answer ({type(error).__name__})", str(error))

    test = given(case=operation.as_strategy(generation_mode=mode))(exercise)
    test = settings(max_examples=examples, deadline=None, database=None,
                    phases=[Phase.explicit, Phase.generate], suppress_health_check=list(HealthCheck),
                    print_blob=False)(test)
    if seed is not None:
        test = hypothesis_seed(seed)(test)
    try:
        test()
    except Unsatisfiable:
        result.notes.append(f"no {mode.value} examples can be generated for this operation")
