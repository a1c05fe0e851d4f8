"""An index for each filter of `GET /admin/audit` (issue 15: fast on a year of rows): staff, register and
operation, beside the customer's and the store's of migration 0001; each partial on rows that have the value,
ordered as the read pages (newest first). Built without blocking the writes of a running service.

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-02
"""

from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None

INDEXES = {
    "audit_log_staff_idx": "(staff_id, audit_id DESC) WHERE staff_id IS NOT NULL",
    "audit_log_register_idx": "(register_id, audit_id DESC) WHERE register_id IS NOT NULL",
    "audit_log_operation_idx": "(operation, audit_id DESC)",
}


def upgrade() -> None:
    with op.get_context().autocommit_block():
        for name, definition in INDEXES.items():
            op.execute(f"CREATE INDEX CONCURRENTLY IF NOT EXISTS {name} ON audit_log {definition}")


def downgrade() -> None:
    for name in INDEXES:
        op.execute(f"DROP INDEX IF EXISTS {name}")
