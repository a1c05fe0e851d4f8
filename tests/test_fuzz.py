"""schemathesis, a tool we did not write, against `serve --demo` (issue 14): every operation of the OpenAPI
document, its examples, coverage, fuzzing and stateful phases, with every check but those the committed
schemathesis.toml re-scopes (each with its reason). Zero failures.

`make test` runs few examples per operation; CI more (CRM_FUZZ_EXAMPLES, set by .ci/run). The seed is fixed so
that a failure is the same failure when run again; CI changes it with CRM_FUZZ_SEED.
"""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from pathlib import Path

from sqlalchemy.engine import make_url

from conftest import free_port, start_server, stop_server
from crm_provider import db

ROOT = Path(__file__).resolve().parent.parent


def test_schemathesis_finds_nothing_against_serve_demo(database_url, tmp_path):
    name = f"crm_fuzz_{uuid.uuid4().hex[:8]}"  # the demo creates it: a database of its own
    url = make_url(database_url).set(database=name).render_as_string(hide_password=False)
    port = free_port()
    env = {"DATABASE_URL": url, "CRM_SPI_USERS": "", "CRM_ADMIN_USERS": "", "CRM_METRICS_USERS": "",
           "LOG_LEVEL": "WARNING"}
    process = start_server(["serve", "--demo"], env, port)
    try:
        st = Path(sys.executable).parent / "st"
        result = subprocess.run(
            [str(st), "--config-file", str(ROOT / "schemathesis.toml"), "run",
             f"http://127.0.0.1:{port}/openapi.json", "--auth", "demo:demo", "--no-color",
             "-n", os.environ.get("CRM_FUZZ_EXAMPLES", "5"), "--seed", os.environ.get("CRM_FUZZ_SEED", "1")],
            capture_output=True, text=True, timeout=900, cwd=tmp_path)
    finally:
        stop_server(process)
        with db.connect(database_url, autocommit=True) as conn:
            conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
    summary = result.stdout[-3000:]
    assert result.returncode == 0, summary
    assert " passed" in summary and "failures" not in summary.splitlines()[-1], summary
