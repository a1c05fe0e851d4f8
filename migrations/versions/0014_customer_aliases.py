"""Customer aliases (issue 15): an id by which another system, or a customer merged away, knew a customer.
An import keeps the old CRM's customer id that is not a UUID here (`kind` 'import'), which historic Sitoo
orders carry in `crm-customerid` and `GET /customers/{id}` resolves.

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-02
"""

from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(
        """
        CREATE TABLE customer_aliases (
            alias        text PRIMARY KEY,
            customer_id  uuid NOT NULL REFERENCES customers,
            kind         text NOT NULL CHECK (kind IN ('import', 'merge')),
            created_at   timestamptz NOT NULL DEFAULT now()
        );
        CREATE INDEX customer_aliases_customer_idx ON customer_aliases (customer_id);
        """
    )


def downgrade() -> None:
    op.execute("DROP TABLE customer_aliases")
