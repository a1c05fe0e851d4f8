"""Merged customers (issue 15): `customers.merged_into` names the customer a duplicate was merged into. The
merged row is emptied as an erasure empties it (no read or search finds it); its id resolves to the
customer it became where a till or Sitoo meets it later (a redeem to undo, an order's crm-customerid), and its
member number through an alias (customer_aliases, kind 'merge').

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-02
"""

from alembic import op

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("ALTER TABLE customers ADD COLUMN merged_into uuid REFERENCES customers")


def downgrade() -> None:
    op.execute("ALTER TABLE customers DROP COLUMN merged_into")
