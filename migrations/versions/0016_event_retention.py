"""The event inbox's retention (issue 15): `crm-provider maintenance` trims handled events older than
CRM_EVENTS_RETENTION_DAYS in batches, oldest first, through this index of exactly those rows (a pending or
failed event is never trimmed). Built without blocking the webhook's writes.

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-02
"""

from alembic import op

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.get_context().autocommit_block():
        op.execute("CREATE INDEX CONCURRENTLY IF NOT EXISTS inbound_events_handled_idx ON inbound_events "
                   "(received_at) WHERE status IN ('processed', 'skipped', 'ignored')")


def downgrade() -> None:
    op.execute("DROP INDEX IF EXISTS inbound_events_handled_idx")
