"""The suite's report for a person: one line per check, and for each failure the rule it broke, what
happened, and the requests and answers that show it."""

from __future__ import annotations

import textwrap

from .runner import FAILED, PASSED, SKIPPED, Report

LABEL = {PASSED: "PASS", FAILED: "FAIL", SKIPPED: "SKIP"}


def render(report: Report, verbose: bool = False) -> str:
    lines = [f"CRM SPI v2 contract suite against {report.base_url} "
             f"({report.started:%Y-%m-%d %H:%M:%S} UTC)", ""]
    width = max((len(result.id) for result in report.results), default=10)
    for result in report.results:
        lines.append(f"{LABEL[result.status]}  {result.id:<{width}}  {result.title}")
        if result.status == SKIPPED or (verbose and result.message and result.status == PASSED):
            lines.append(_indent(result.message))
        if result.status == FAILED:
            lines.append(_indent("rule:  " + result.rule))
            lines.append(_indent("what happened:  " + result.message))
            for exchange in result.exchanges:
                lines.append(_indent(exchange.describe()))
            lines.append("")
    lines.append("")
    lines.append(f"{report.count(PASSED)} passed, {report.count(FAILED)} failed, {report.count(SKIPPED)} skipped "
                 f"in {report.seconds:.1f} s")
    return "\n".join(lines)


def _indent(text: str) -> str:
    return textwrap.indent(text, " " * 6)
