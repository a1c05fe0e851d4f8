"""Orders that name a bonus check or promotion they could not consume (issue 14): the same item used by a
second purchase after its redeem was undone, another customer's item, an id no customer holds. The loyalty
area keeps one row per order and item, as the order has it now (a replay updates it, an update that no
longer names the item removes it), for the back office and for the `crm_item_conflicts` gauge.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-02
"""

from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(
        """
        CREATE TABLE item_conflicts (
            order_id            bigint NOT NULL,
            kind                text NOT NULL CHECK (kind IN ('bonus_check', 'promotion')),
            item_id             text NOT NULL,
            customer_id         uuid NOT NULL,
            reason              text NOT NULL
                CHECK (reason IN ('used_by_another_order', 'another_customers_item', 'unknown_item')),
            other_order_id      bigint,
            holder_customer_id  uuid,
            first_seen_at       timestamptz NOT NULL DEFAULT now(),
            last_seen_at        timestamptz NOT NULL DEFAULT now(),
            PRIMARY KEY (order_id, kind, item_id)
        );
        CREATE INDEX item_conflicts_seen_idx ON item_conflicts (first_seen_at DESC);
        """
    )


def downgrade() -> None:
    op.execute("DROP TABLE item_conflicts")
