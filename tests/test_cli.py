"""The command line as the README promises it: `serve --demo` from nothing, `db upgrade`, `demo`."""

import os
import subprocess
import sys

import requests
from click.testing import CliRunner

from conftest import EXAMPLES, free_port, start_server, stop_server
from crm_provider.cli import main


def test_serve_demo_from_an_empty_data_dir_answers_the_spec_example(tmp_path):
    """What `make run` does: embedded PostgreSQL, migrations, demo data, gunicorn, demo/demo."""
    port = free_port()
    env = {"CRM_DATA_DIR": str(tmp_path / "data"), "DATABASE_URL": "", "CRM_SPI_USERS": "", "CRM_ADMIN_USERS": ""}
    process = start_server(["serve", "--demo"], env, port)
    try:
        response = requests.get(f"http://127.0.0.1:{port}/customers?key_type=member_number&key=10012",
                                auth=("demo", "demo"), timeout=10)
        assert response.status_code == 200
        assert response.json() == EXAMPLES["Search Customer"]["response"]
        assert requests.get(f"http://127.0.0.1:{port}/consents", timeout=10).status_code == 401
    finally:
        output = stop_server(process)
    assert "demo/demo" in output
    assert (tmp_path / "data" / "pgdata" / "PG_VERSION").exists()
    assert not (tmp_path / "data" / "pgdata" / "postmaster.pid").exists(), "the embedded server was left running"


def test_db_upgrade_and_demo_are_idempotent(database_url, spi):
    runner = CliRunner()
    env = {"DATABASE_URL": database_url}
    for args in (["db", "upgrade"], ["db", "upgrade"], ["demo"], ["demo"]):
        result = runner.invoke(main, args, env=env)
        assert result.exit_code == 0, result.output
    assert spi.get("/customers?key_type=member_number&key=10012").json == EXAMPLES["Search Customer"]["response"]


def test_demo_puts_changed_examples_back(database_url, spi, demo_data):
    spi.put("/customers/a26d8975-3b86-43c0-9b12-a86401074770", json={"name_first": "Changed"})
    assert CliRunner().invoke(main, ["demo"], env={"DATABASE_URL": database_url}).exit_code == 0
    assert spi.get("/customers?key_type=member_number&key=10012").json == EXAMPLES["Search Customer"]["response"]


def test_console_script_is_installed():
    script = os.path.join(os.path.dirname(sys.executable), "crm-provider")
    result = subprocess.run([script, "--help"], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0
    for command in ("serve", "db", "demo"):
        assert command in result.stdout
