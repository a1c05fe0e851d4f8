"""The conformance suite: it passes against the real service (gunicorn, fuzzing included), and each
deliberately broken variant of the service fails the check written for its fault."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner
from junitparser import JUnitXml

from broken_variants import VARIANTS, Variant, serve
from conftest import ADMIN_PASSWORD, ADMIN_USER, SPI_PASSWORD, SPI_USER, free_port, start_server, stop_server
from crm_provider.cli import main
from crm_provider.contract import openapi, report, runner
from crm_provider.contract.checks import CHECKS

FUZZ_EXAMPLES = 3  # per operation and mode: enough to exercise every operation, small enough to stay fast


@pytest.fixture(scope="module")
def document():
    return openapi.Document(openapi.load())


@pytest.fixture(scope="module")
def gunicorn(database_url):
    """`crm-provider serve` (gunicorn, production settings) for the suite alone: its hundreds of requests
    would fill the unread output pipe of the shared `live_server` with request log lines (LOG_LEVEL=WARNING
    keeps this one quiet)."""
    port = free_port()
    process = start_server(["serve"], {
        "DATABASE_URL": database_url, "LOG_LEVEL": "WARNING",
        "CRM_SPI_USERS": f"{SPI_USER}:{SPI_PASSWORD}", "CRM_ADMIN_USERS": f"{ADMIN_USER}:{ADMIN_PASSWORD}",
    }, port)
    yield f"http://127.0.0.1:{port}"
    stop_server(process)


def run(base_url, document, **kwargs):
    kwargs.setdefault("admin_user", ADMIN_USER)
    kwargs.setdefault("admin_password", ADMIN_PASSWORD)
    return runner.run(base_url, SPI_USER, SPI_PASSWORD, document=document, **kwargs)


def test_every_check_passes_against_the_real_service(gunicorn, demo_data, document, tmp_path):
    """What CI runs: the whole suite, fuzzing included, against `crm-provider serve` (gunicorn) through the
    command line, with its JUnit report."""
    junit_file = tmp_path / "contract.xml"
    result = CliRunner().invoke(main, [
        "contract-test", gunicorn, "--user", SPI_USER, "--password", SPI_PASSWORD,
        "--admin-user", ADMIN_USER, "--admin-password", ADMIN_PASSWORD,
        "--fuzz", str(FUZZ_EXAMPLES), "--seed", "1", "--junit", str(junit_file)])
    assert result.exit_code == 0, result.output
    assert "0 failed, 0 skipped" in result.output
    suite = next(iter(JUnitXml.fromfile(str(junit_file))))
    cases = {case.name: case for case in suite}
    assert {check.id for check in CHECKS} <= set(cases)
    assert sum(name.startswith("fuzz ") for name in cases) == 10  # every SPI operation
    assert all(case.is_passed for case in cases.values())


def test_checks_needing_the_back_office_are_skipped_without_it(gunicorn, demo_data, document):
    needs_admin = {check.id for check in CHECKS if check.needs_admin}
    assert needs_admin >= {"redeem", "redeem-all-or-nothing", "redeem-twice", "undo-redeem"}
    result = run(gunicorn, document, admin_user=None, admin_password=None, only=needs_admin)
    statuses = {r.id: r.status for r in result.results}
    assert {statuses[check] for check in needs_admin} == {runner.SKIPPED}
    assert result.ok and result.count(runner.PASSED) == len(runner.JUDGES)


def test_unreachable_crm_is_one_failure(document):
    result = run("http://127.0.0.1:9", document)
    assert [(r.id, r.status) for r in result.results] == [("reachable", runner.FAILED)]


def test_the_unchanged_variant_passes(app, demo_data, document):
    """The harness itself adds no fault: the real app behind the pass-through middleware passes."""
    with serve(Variant(app)) as base_url:
        result = run(base_url, document)
    assert result.ok, report.render(result)


@pytest.mark.parametrize("variant", VARIANTS, ids=lambda variant: variant.__name__)
def test_each_broken_variant_fails_its_check(app, demo_data, document, variant):
    """Only the checks that exercise the fault run (the unchanged variant above runs them all)."""
    with serve(variant(app)) as base_url:
        result = run(base_url, document, only=variant.exercised_by or {variant.catches})
    failed = {r.id for r in result.failed}
    assert variant.catches in failed, f"{variant.fault}: not caught\n{report.render(result)}"
    caught = result.by_id()[variant.catches]
    assert caught.exchanges, "a failure shows the request and the answer that broke the rule"
    assert caught.rule in report.render(result)


def test_cli_exits_1_and_explains_a_failure(app, demo_data):
    with serve(VARIANTS[0](app)) as base_url:
        result = CliRunner().invoke(main, [
            "contract-test", base_url, "--user", SPI_USER, "--password", SPI_PASSWORD,
            "--admin-user", ADMIN_USER, "--admin-password", ADMIN_PASSWORD, "--check", "redeem-all-or-nothing"])
    assert result.exit_code == 1
    assert "FAIL  redeem-all-or-nothing" in result.output
    assert "rule:  Redeem Items" in result.output and "request:  POST" in result.output


def test_cli_refuses_unknown_checks():
    result = CliRunner().invoke(main, ["contract-test", "http://127.0.0.1:9", "--user", "u", "--password", "p",
                                       "--check", "no-such-check"])
    assert result.exit_code == 2 and "no such check" in result.output


def test_every_check_is_explained_in_the_docs():
    docs = (Path(__file__).resolve().parents[1] / "docs" / "contract.md").read_text()
    assert all(f"| `{check.id}` |" in docs for check in CHECKS)
