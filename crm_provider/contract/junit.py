"""The suite's report as JUnit XML, for CI systems: one test case per check."""

from __future__ import annotations

from junitparser import Failure, JUnitXml, Skipped, TestCase, TestSuite

from .runner import FAILED, SKIPPED, Report


def write(report: Report, path: str) -> None:
    suite = TestSuite("crm-spi-contract")
    suite.timestamp = report.started.isoformat()
    for result in report.results:
        case = TestCase(result.id, classname="crm_spi_contract", time=round(result.seconds, 3))
        if result.status == FAILED:
            failure = Failure(result.message.splitlines()[0] if result.message else "failed")
            failure.text = "\n\n".join([f"rule: {result.rule}", result.message,
                                        *(exchange.describe() for exchange in result.exchanges)])
            case.result = [failure]
        elif result.status == SKIPPED:
            case.result = [Skipped(result.message)]
        suite.add_testcase(case)
    xml = JUnitXml()
    xml.add_testsuite(suite)
    xml.write(path, pretty=True)
