"""The loyalty program: its document's versions, the points ledger, and what it keeps for speed.

- `program_versions`: every program document the retailer set, with the time it took effect.
- `points_ledger`: append-only; every change of a balance, naming its cause (the order, the bonus check it
  became, the person who adjusted it). Balances and points earned in a window are sums over it.
- `points_orders`: the points each order has booked so far (the sum of its ledger rows), and the tier's
  multiplier it was first judged with: an order's events,
  replayed or updated, book only the difference to what it earns now.
- `points_accounts`: each customer's balance (and shortfall, and tier), kept with every ledger row in the same transaction, for the
  customer card; `crm-provider program verify` checks it against the ledger.
- `customers.status_by_tier`: whether the tier sets the customer's status (false: the back office's, which
  includes every status stored before the program); `customers.tier_voucher_passwords`: the ones the tier
  adds to the customer's own.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-01
"""

from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(
        """
        CREATE TABLE program_versions (
            version     integer GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
            document    jsonb NOT NULL,
            valid_from  timestamptz NOT NULL DEFAULT now(),
            set_by      text NOT NULL
        );
        CREATE INDEX program_versions_valid_from_idx ON program_versions (valid_from);

        CREATE TABLE points_ledger (
            entry_id        bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
            customer_id     uuid NOT NULL REFERENCES customers,
            kind            text NOT NULL CHECK (kind IN ('earned', 'reversed', 'converted', 'expired',
                                                          'adjusted', 'opening')),
            points          integer NOT NULL CHECK (points <> 0),
            order_id        bigint,
            bonus_check_id  text,
            version         integer REFERENCES program_versions,
            reason          text,
            actor           text,
            earned_at       timestamptz NOT NULL,
            booked_at       timestamptz NOT NULL DEFAULT now()
        );
        CREATE INDEX points_ledger_customer_idx ON points_ledger (customer_id, earned_at);
        CREATE INDEX points_ledger_booked_idx ON points_ledger (booked_at);

        CREATE TABLE points_orders (
            order_id     bigint PRIMARY KEY,
            customer_id  uuid NOT NULL REFERENCES customers,
            points       integer NOT NULL,
            version      integer NOT NULL REFERENCES program_versions,
            earned_at    timestamptz NOT NULL,
            original_order_id  bigint,
            multiplier   numeric NOT NULL DEFAULT 1
        );
        CREATE INDEX points_orders_original_idx ON points_orders (original_order_id) WHERE original_order_id IS NOT NULL;

        CREATE TABLE points_accounts (
            customer_id  uuid PRIMARY KEY REFERENCES customers,
            balance      integer NOT NULL DEFAULT 0,
            shortfall    integer NOT NULL DEFAULT 0 CHECK (shortfall >= 0),
            tier         text,
            updated_at   timestamptz NOT NULL DEFAULT now()
        );

        ALTER TABLE customers ADD COLUMN status_by_tier boolean NOT NULL DEFAULT false,
                              ADD COLUMN tier_voucher_passwords text[] NOT NULL DEFAULT '{}';
        """
    )


def downgrade() -> None:
    op.execute(
        """
        ALTER TABLE customers DROP COLUMN status_by_tier, DROP COLUMN tier_voucher_passwords;
        DROP TABLE points_accounts, points_orders, points_ledger, program_versions;
        """
    )
