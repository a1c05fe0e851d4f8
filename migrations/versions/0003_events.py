"""Sitoo Events SPI: the received events, the order backfill cursor, and procrastinate's job queue.

`inbound_events` is the durable record of every event Sitoo sent (unique on its event_id, so a resent
event is recognised) and of what became of it. The job queue is procrastinate's own schema, applied
here so that `crm-provider db upgrade` is the only step a deployment runs; its version is pinned in
pyproject.toml because this migration applies the schema of the installed release. Upgrading
procrastinate to a release with schema changes means a new migration applying its
`procrastinate/sql/migrations/*.sql` files in order.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-22
"""

from alembic import op
from procrastinate.schema import SchemaManager

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(
        """
        -- One row per event received. Order events wait in `pending` until the worker has read the order
        -- and applied it (`processed`), or found nothing to apply (`skipped`, with the reason); other event
        -- types are `ignored` on receipt; `failed` is an order event whose retries ran out.
        CREATE TABLE inbound_events (
            event_id          uuid PRIMARY KEY,
            event_type        text NOT NULL,
            event_date        timestamptz NOT NULL,
            account_id        bigint NOT NULL,
            order_id          bigint,
            order_event_type  text,
            data              jsonb NOT NULL,
            status            text NOT NULL CHECK (status IN ('pending', 'processed', 'skipped', 'ignored', 'failed')),
            reason            text,
            customer_id       uuid REFERENCES customers ON DELETE SET NULL,
            attempts          integer NOT NULL DEFAULT 0,
            last_error        text,
            received_at       timestamptz NOT NULL DEFAULT now(),
            processed_at      timestamptz
        );
        CREATE INDEX inbound_events_order_idx ON inbound_events (order_id, received_at) WHERE order_id IS NOT NULL;
        CREATE INDEX inbound_events_status_idx ON inbound_events (status, event_type);

        -- Where `crm-provider sync-orders` goes on from, per Sitoo account.
        CREATE TABLE order_sync_state (
            account_id     bigint PRIMARY KEY,
            next_order_id  bigint NOT NULL,
            updated_at     timestamptz NOT NULL DEFAULT now()
        );
        """
    )
    # procrastinate's schema as its release ships it (plpgsql bodies: run as the driver's text, unparsed).
    op.get_bind().exec_driver_sql(SchemaManager.get_schema().replace("%", "%%"))


def downgrade() -> None:
    op.execute(
        """
        DROP TABLE order_sync_state, inbound_events;
        DROP TABLE procrastinate_events, procrastinate_periodic_defers, procrastinate_jobs, procrastinate_workers CASCADE;
        DO $$
        DECLARE f record;
        BEGIN
            FOR f IN SELECT oid::regprocedure AS sig FROM pg_proc WHERE proname LIKE 'procrastinate%' LOOP
                EXECUTE 'DROP ROUTINE ' || f.sig || ' CASCADE';
            END LOOP;
        END $$;
        DROP TYPE procrastinate_job_to_defer_v1, procrastinate_job_event_type, procrastinate_job_status;
        """
    )
