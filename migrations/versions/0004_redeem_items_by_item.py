"""Find the redeems that hold an item (releasing an item a cancelled purchase used asks whether an open
redeem still holds it).

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-22
"""

from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("CREATE INDEX redeem_items_item_idx ON redeem_items (kind, item_id)")


def downgrade() -> None:
    op.execute("DROP INDEX redeem_items_item_idx")
