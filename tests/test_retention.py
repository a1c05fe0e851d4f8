"""Retention (issue 15): `crm-provider maintenance` trims the event inbox of handled events older than
CRM_EVENTS_RETENTION_DAYS, and nothing else; two trims at once delete each event once."""

from __future__ import annotations

import threading

import pytest
from click.testing import CliRunner

from crm_provider import db
from crm_provider.cli import main
from crm_provider.config import Settings
from crm_provider.events import service as events


def add_events(conn, count: int, status: str, days_ago: float) -> None:
    conn.execute("""
        INSERT INTO inbound_events (event_id, event_type, event_date, account_id, order_id, data, status,
                                    received_at)
        SELECT gen_random_uuid(), 'order', now(), 1, n, '{}', %(status)s, now() - make_interval(days => %(days)s)
        FROM generate_series(1, %(count)s) AS n""", {"status": status, "days": days_ago, "count": count})


def statuses(conn) -> list[tuple[str, int]]:
    return [(row["status"], row["days"]) for row in conn.execute(
        "SELECT status, extract(day FROM now() - received_at)::int AS days FROM inbound_events "
        "ORDER BY status, days")]


def test_maintenance_trims_handled_events_past_the_retention_and_keeps_the_rest(database_url, conn):
    for status in ("processed", "skipped", "ignored", "pending", "failed"):
        add_events(conn, 1, status, 31)
    add_events(conn, 1, "processed", 29)
    ran = CliRunner().invoke(main, ["maintenance"], env={"DATABASE_URL": database_url,
                                                         "CRM_EVENTS_RETENTION_DAYS": "30"})
    assert ran.exit_code == 0, ran.output
    assert "handled events older than 30 days deleted: 3" in ran.output
    # what is waiting or gave up is the back office's to see; a recent event still recognises its replay
    assert statuses(conn) == [("failed", 31), ("pending", 31), ("processed", 29)]


def test_two_trims_at_once_delete_each_event_once(database_url, conn):
    add_events(conn, 2 * events.TRIM_BATCH + 500, "processed", 40)
    add_events(conn, 10, "processed", 1)
    deleted, errors = [], []

    def trim():
        try:
            with db.connect(database_url, autocommit=True) as own:
                deleted.append(events.trim(own, 30))
        except Exception as error:  # reported by the assertion below
            errors.append(error)

    threads = [threading.Thread(target=trim) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors and sum(deleted) == 2 * events.TRIM_BATCH + 500
    assert statuses(conn) == [("processed", 1)] * 10


def test_a_retention_shorter_than_sitoos_retry_window_is_refused():
    with pytest.raises(ValueError, match="CRM_EVENTS_RETENTION_DAYS is 2 or more"):
        Settings.from_env({"CRM_EVENTS_RETENTION_DAYS": "1"})
    assert Settings.from_env({}).events_retention_days == 30
