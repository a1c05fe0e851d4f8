"""The customer hooks' outbox, and the end of the `customer_documents` view.

- `customer_events`: what happened to a customer (created, updated, merged, erased), written in the
  transaction of the change, for the worker to deliver to the customer hooks after the commit
  (customers/hooks.py); `customer_event_deliveries`: which hook has had which event.
- `customer_documents` (0002) has been read by nothing since 0005. `customer_wire` (0005) is no longer
  read by this release either (the document is named SQL in customers/queries.sql), but the previous
  release reads it: it stays until the next migration, so that a rolling update never breaks.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-01
"""

from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(
        """
        DROP VIEW customer_documents;

        CREATE TABLE customer_events (
            event_id     uuid PRIMARY KEY DEFAULT gen_random_uuid(),
            customer_id  uuid NOT NULL,
            kind         text NOT NULL CHECK (kind IN ('created', 'updated', 'merged', 'erased')),
            detail       jsonb,
            occurred_at  timestamptz NOT NULL DEFAULT now()
        );
        CREATE INDEX customer_events_customer_idx ON customer_events (customer_id, occurred_at);

        CREATE TABLE customer_event_deliveries (
            event_id    uuid NOT NULL REFERENCES customer_events ON DELETE CASCADE,
            hook        text NOT NULL,
            status      text NOT NULL CHECK (status IN ('delivered', 'failed')),
            attempts    integer NOT NULL DEFAULT 1,
            last_error  text,
            updated_at  timestamptz NOT NULL DEFAULT now(),
            PRIMARY KEY (event_id, hook)
        );
        """
    )


def downgrade() -> None:
    # The dead view is not brought back (nothing reads it); 0002's downgrade drops it only if it exists.
    op.execute(
        """
        DROP TABLE customer_event_deliveries, customer_events;
        """
    )
