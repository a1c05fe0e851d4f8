"""The workshop (issue 16): the open service orders of Sitoo and the open work orders of Shopmonkey, as the
customer card shows them.

- `sitoo_service_orders`: the open (new, in progress, service done) service orders that belong to a customer,
  with the card's value for each, ready made; no names, mobiles or emails (matching needs them only while a
  page of the API is read). `last_sweep` is the sweep that last saw it open: what a finished sweep did not
  see has closed.
- `workshop_sync`: a sync's state, one row per source: the sweep under way and where it stands within it,
  the last success, the failures in a row and when to try again.
- `shopmonkey_events`: the inbox of the Shopmonkey webhook (exactly once by `event_id`); the customer's key
  is held only until the event is handled.
- `shopmonkey_orders`: the open work orders that belong to a customer, with the card's section ready made.

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-02
"""

from alembic import op

revision = "0019"
down_revision = "0018"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(
        """
        CREATE TABLE sitoo_service_orders (
            service_order_id  text PRIMARY KEY,
            revision          integer NOT NULL,
            state             text NOT NULL CHECK (state IN ('new', 'in_progress', 'service_done')),
            customer_id       uuid NOT NULL REFERENCES customers,
            store_id          text,
            created           timestamptz,
            card_value        jsonb NOT NULL,
            last_sweep        bigint NOT NULL,
            synced_at         timestamptz NOT NULL DEFAULT now()
        );
        CREATE INDEX sitoo_service_orders_customer_idx ON sitoo_service_orders (customer_id);
        CREATE INDEX sitoo_service_orders_sweep_idx ON sitoo_service_orders (last_sweep);

        CREATE TABLE workshop_sync (
            source         text PRIMARY KEY,
            sweep          bigint NOT NULL DEFAULT 1,
            resume_after   text,
            seen           integer NOT NULL DEFAULT 0,
            last_success   timestamptz,
            failures       integer NOT NULL DEFAULT 0,
            last_error     text,
            retry_at       timestamptz
        );

        CREATE TABLE shopmonkey_events (
            event_id      text PRIMARY KEY,
            order_id      text NOT NULL,
            status        text NOT NULL CHECK (status IN ('open', 'closed', 'deleted')),
            customer_key  jsonb,
            received_at   timestamptz NOT NULL DEFAULT now(),
            outcome       text NOT NULL DEFAULT 'pending',
            reason        text,
            attempts      integer NOT NULL DEFAULT 0,
            last_error    text,
            handled_at    timestamptz
        );
        CREATE INDEX shopmonkey_events_handled_idx ON shopmonkey_events (received_at) WHERE outcome <> 'pending';

        CREATE TABLE shopmonkey_orders (
            order_id     text PRIMARY KEY,
            customer_id  uuid NOT NULL REFERENCES customers,
            section      jsonb NOT NULL,
            updated_at   timestamptz NOT NULL DEFAULT now()
        );
        CREATE INDEX shopmonkey_orders_customer_idx ON shopmonkey_orders (customer_id);
        """
    )


def downgrade() -> None:
    op.execute("DROP TABLE shopmonkey_orders, shopmonkey_events, workshop_sync, sitoo_service_orders")
