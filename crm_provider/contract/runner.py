"""Runs the checks against a CRM, in order, and collects one result per check."""

from __future__ import annotations

import time
import traceback
from dataclasses import dataclass, field
from datetime import datetime, timezone

from .checks import CHECKS, JUDGES, Context, Failed, Skipped
from .client import Client, Exchange
from .openapi import Document, load

PASSED, FAILED, SKIPPED = "passed", "failed", "skipped"


@dataclass
class Result:
    id: str
    title: str
    rule: str
    status: str
    message: str = ""
    exchanges: list[Exchange] = field(default_factory=list)
    seconds: float = 0.0


@dataclass
class Report:
    base_url: str
    started: datetime
    results: list[Result] = field(default_factory=list)
    seconds: float = 0.0

    def count(self, status: str) -> int:
        return sum(result.status == status for result in self.results)

    @property
    def failed(self) -> list[Result]:
        return [result for result in self.results if result.status == FAILED]

    @property
    def ok(self) -> bool:
        return not self.failed

    def by_id(self) -> dict[str, Result]:
        return {result.id: result for result in self.results}


def run(base_url: str, user: str, password: str, *, admin_user: str | None = None,
        admin_password: str | None = None, fuzz: int = 0, seed: int | None = None,
        document: Document | None = None, only: set[str] | None = None, timeout: float = 10.0) -> Report:
    """Run the suite against the CRM at `base_url`. `fuzz`: schemathesis examples per operation and mode
    (0: no fuzzing). `only`: the ids of the checks to run (the judges of every answer always run)."""
    document = document or Document(load())
    log: list[Exchange] = []
    admin = Client(base_url, (admin_user, admin_password), log, timeout) if admin_user else None
    ctx = Context(document, Client(base_url, (user, password), log, timeout), Client(base_url, None, log, timeout),
                  admin, log)
    report = Report(base_url, datetime.now(timezone.utc))
    started = time.monotonic()
    probe = ctx.anonymous.get("/consents")
    if probe.error:  # nothing to judge: one failure that says so, rather than one per check
        report.results.append(Result("reachable", "The CRM answers", f"The CRM answers HTTP at {base_url}.",
                                     FAILED, f"no answer: {probe.error}", [probe]))
        return report
    for check in CHECKS:
        if only is not None and check.id not in only and check.id not in JUDGES:
            continue
        report.results.append(_run_check(ctx, check))
    if fuzz > 0:
        report.results += _fuzz(document, base_url, (user, password), fuzz, seed)
    report.seconds = time.monotonic() - started
    return report


def _run_check(ctx: Context, check) -> Result:
    result = Result(check.id, check.title, check.rule, PASSED)
    first = len(ctx.log)
    started = time.monotonic()
    try:
        if check.needs_admin and ctx.admin is None:
            raise Skipped("needs data the SPI cannot create (promotions, bonus checks, transactions): "
                          "give --admin-user and --admin-password to create it through the admin routes")
        check.run(ctx)
    except Skipped as skipped:
        result.status, result.message = SKIPPED, str(skipped)
    except Failed as failed:
        result.status, result.message = FAILED, failed.message
        result.exchanges = failed.exchanges or ctx.log[first:][-1:]
    except Exception as error:  # a check that cannot even run (the CRM answered nonsense) has failed
        result.status = FAILED
        result.message = f"the check could not run: {type(error).__name__}: {error}\n" + \
            "".join(traceback.format_exception(error)[-3:])
        result.exchanges = ctx.log[first:][-1:]
    result.seconds = time.monotonic() - started
    return result


def _fuzz(document, base_url, auth, examples, seed) -> list[Result]:
    from . import fuzz as fuzzing  # schemathesis takes a second to import: only when fuzzing

    results = []
    for operation in fuzzing.run(document, base_url, auth, examples, seed):
        result = Result(f"fuzz {operation.label}", f"schemathesis: {operation.label}",
                        "Property-based: requests generated from the OpenAPI document; every answer passes "
                        "schemathesis' checks.", PASSED, seconds=operation.seconds)
        if operation.failures:
            result.status = FAILED
            result.message = f"{len(operation.failures)} kind(s) of failure in {operation.examples} examples:\n" + \
                "\n".join(details.strip() for details in operation.failures.values())
        else:
            result.message = "; ".join([f"{operation.examples} examples", *operation.notes])
        results.append(result)
    return results
