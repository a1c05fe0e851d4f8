"""The audit log partitioned by month (issue 15: retention drops whole months, the only way rows leave it).

`audit_log` becomes a table partitioned by range of `at`, one partition a month (`audit_log_2026_12`, its
bounds midnight UTC), and a default partition that takes a row whose month has no partition yet (a
maintenance that did not run: no audited request may fail for it). The columns are the same, in the same
order (a row's canonical text, which the hash chain seals, does not change); the primary key includes `at`,
as a partitioned table's must; the filters' indexes are the same. The append-only trigger and the
application role's rights (SELECT and INSERT) hold on the parent and every partition.

`audit_log_add_month(parent, month)` adds a month's partition (false when it is there): the one statement of
how a partition is made. Should the default partition hold rows of that month already, they move into it,
under a lock that holds the log's writes meanwhile. It runs with the owner's rights, so that the worker (the
application role) makes the coming months' partitions; only the owner drops one (audit/partitions.py).

`audit_log_swap()` makes `audit_log_partitioned` the audit log: it copies the rows it lacks from the old log
under a lock on both, continues the old log's ids, drops it, and adds this month's partition and three more. A
database whose audit log is empty (a new installation) is swapped at once. Otherwise the service goes on
writing the old log until `crm-provider audit partition` has copied its rows across, online and resumably,
and swaps.

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-02
"""

from alembic import op

revision = "0018"
down_revision = "0017"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(
        """
        CREATE TABLE audit_log_partitioned (
            audit_id       bigint GENERATED ALWAYS AS IDENTITY,
            at             timestamptz NOT NULL DEFAULT now(),
            operation      text NOT NULL,
            customer_id    text,
            http_status    smallint NOT NULL,
            request_id     text NOT NULL,
            credential     text NOT NULL,
            authenticated  boolean NOT NULL,
            store_id       text,
            staff_id       text,
            register_id    text,
            detail         jsonb,
            CONSTRAINT audit_log_key PRIMARY KEY (audit_id, at)
        ) PARTITION BY RANGE (at);
        CREATE INDEX audit_log_by_customer ON audit_log_partitioned (customer_id, audit_id DESC)
            WHERE customer_id IS NOT NULL;
        CREATE INDEX audit_log_by_store ON audit_log_partitioned (store_id, audit_id DESC) WHERE store_id IS NOT NULL;
        CREATE INDEX audit_log_by_staff ON audit_log_partitioned (staff_id, audit_id DESC) WHERE staff_id IS NOT NULL;
        CREATE INDEX audit_log_by_register ON audit_log_partitioned (register_id, audit_id DESC)
            WHERE register_id IS NOT NULL;
        CREATE INDEX audit_log_by_operation ON audit_log_partitioned (operation, audit_id DESC);
        CREATE TRIGGER audit_log_append_only BEFORE UPDATE OR DELETE ON audit_log_partitioned
            FOR EACH ROW EXECUTE FUNCTION audit_log_append_only();
        CREATE TABLE audit_log_default PARTITION OF audit_log_partitioned DEFAULT;
        REVOKE UPDATE, DELETE, TRUNCATE ON audit_log_partitioned, audit_log_default FROM crm_app;

        CREATE FUNCTION audit_log_add_month(parent regclass, month date) RETURNS boolean
        LANGUAGE plpgsql SECURITY DEFINER SET search_path FROM CURRENT AS $$
        DECLARE
            name text := 'audit_log_' || to_char(month, 'YYYY_MM');
            lower timestamptz := date_trunc('month', month)::timestamp AT TIME ZONE 'UTC';
            upper timestamptz := (date_trunc('month', month) + interval '1 month')::timestamp AT TIME ZONE 'UTC';
        BEGIN
            IF to_regclass(name) IS NOT NULL THEN
                RETURN false;
            END IF;
            IF EXISTS (SELECT FROM audit_log_default WHERE at >= lower AND at < upper) THEN
                -- Late: the month's rows are in the default partition. Detached, it has no trigger to refuse
                -- their move; the lock holds the log's writes until the commit.
                EXECUTE format('LOCK TABLE %s IN ACCESS EXCLUSIVE MODE', parent);
                EXECUTE format('ALTER TABLE %s DETACH PARTITION audit_log_default', parent);
                EXECUTE format('CREATE TABLE %I (LIKE %s)', name, parent);
                EXECUTE format('INSERT INTO %I SELECT * FROM audit_log_default WHERE at >= %L AND at < %L',
                               name, lower, upper);
                DELETE FROM audit_log_default WHERE at >= lower AND at < upper;
                EXECUTE format('ALTER TABLE %s ATTACH PARTITION %I FOR VALUES FROM (%L) TO (%L)',
                               parent, name, lower, upper);
                EXECUTE format('ALTER TABLE %s ATTACH PARTITION audit_log_default DEFAULT', parent);
            ELSE
                EXECUTE format('CREATE TABLE %I PARTITION OF %s FOR VALUES FROM (%L) TO (%L)',
                               name, parent, lower, upper);
            END IF;
            EXECUTE format('REVOKE UPDATE, DELETE, TRUNCATE ON %I FROM crm_app', name);
            RETURN true;
        END $$;
        REVOKE EXECUTE ON FUNCTION audit_log_add_month(regclass, date) FROM PUBLIC;
        GRANT EXECUTE ON FUNCTION audit_log_add_month(regclass, date) TO crm_app;

        CREATE FUNCTION audit_log_swap() RETURNS void LANGUAGE plpgsql AS $$
        BEGIN
            IF to_regclass('audit_log_partitioned') IS NULL THEN
                RETURN;
            END IF;
            LOCK TABLE audit_log, audit_log_partitioned IN ACCESS EXCLUSIVE MODE;
            INSERT INTO audit_log_partitioned OVERRIDING SYSTEM VALUE
            SELECT * FROM audit_log
            WHERE audit_id > COALESCE((SELECT max(audit_id) FROM audit_log_partitioned), 0);
            PERFORM setval(pg_get_serial_sequence('audit_log_partitioned', 'audit_id'), COALESCE(used, 1),
                           used IS NOT NULL)
            FROM pg_sequence_last_value(pg_get_serial_sequence('audit_log', 'audit_id')::regclass) AS used;
            DROP TABLE audit_log;
            ALTER TABLE audit_log_partitioned RENAME TO audit_log;
            PERFORM audit_log_add_month('audit_log', (now() AT TIME ZONE 'UTC' + make_interval(months => n))::date)
            FROM generate_series(0, 3) AS n;
        END $$;
        REVOKE EXECUTE ON FUNCTION audit_log_swap() FROM PUBLIC, crm_app;
        """
    )
    if not op.get_bind().exec_driver_sql("SELECT EXISTS (SELECT FROM audit_log)").scalar():
        op.execute("SELECT audit_log_swap()")  # else `crm-provider audit partition` moves the rows, then swaps


def downgrade() -> None:
    op.execute(
        """
        DROP FUNCTION audit_log_swap();
        DROP FUNCTION audit_log_add_month(regclass, date);
        DROP TABLE IF EXISTS audit_log_partitioned;
        """
    )
