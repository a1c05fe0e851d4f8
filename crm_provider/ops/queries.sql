-- Operations: readiness and the figures /metrics computes at scrape time.

-- name: schema_version_table
SELECT to_regclass('alembic_version') IS NOT NULL AS present

-- name: schema_versions
SELECT version_num FROM alembic_version

-- name: table_present
-- A table of a later migration may not be in this database yet: a schema behind the code still scrapes.
SELECT to_regclass(%(name)s) IS NOT NULL AS present

-- name: events_backlog
-- Order events received and not yet applied: what the ingestion worker still has to do.
SELECT count(*) AS backlog FROM inbound_events WHERE status = 'pending'
