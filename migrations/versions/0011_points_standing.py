"""The customer card's program figures kept with the account (issue 13): the next tier and the points still
missing for it, and the points expiring within 30 days. They were computed from the ledger in every customer
read; kept here, refreshed at every change of the account and by the daily job (and for every account within
a day of a program change: `standing_version`), the card is one row's columns.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-02
"""

from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(
        """
        ALTER TABLE points_accounts
            ADD COLUMN next_tier         text,
            ADD COLUMN to_next_tier      integer,
            ADD COLUMN expiring_soon     integer NOT NULL DEFAULT 0,
            ADD COLUMN standing_version  integer;
        """
    )


def downgrade() -> None:
    op.execute(
        """
        ALTER TABLE points_accounts DROP COLUMN next_tier, DROP COLUMN to_next_tier, DROP COLUMN expiring_soon,
            DROP COLUMN standing_version;
        """
    )
