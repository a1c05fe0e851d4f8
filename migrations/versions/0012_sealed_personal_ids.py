"""Personal ids sealed at rest (issue 14, crm_provider/personal_ids.py): the AES-GCM ciphertext and its key
id, and the keyed blind index that searches and the uniqueness of live customers' personal ids use.

This release reads both forms: a row written before it has its personal id in plain (`personal_id`,
`personal_id_norm`), a row written by it has the sealed columns and the plain ones empty.
`crm-provider keys rotate` seals the plain ones; a later release drops the plain columns. Adding columns
without a default rewrites nothing; the index is built without blocking writes.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-02
"""

from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(
        """
        ALTER TABLE customers
            ADD COLUMN personal_id_key     text,
            ADD COLUMN personal_id_sealed  bytea,
            ADD COLUMN personal_id_index   bytea;
        """
    )
    with op.get_context().autocommit_block():
        op.execute("CREATE UNIQUE INDEX CONCURRENTLY IF NOT EXISTS customers_personal_id_index_key "
                   "ON customers (personal_id_index) WHERE erased_at IS NULL")


def downgrade() -> None:
    op.execute(
        """
        DROP INDEX IF EXISTS customers_personal_id_index_key;
        ALTER TABLE customers DROP COLUMN personal_id_key, DROP COLUMN personal_id_sealed,
            DROP COLUMN personal_id_index;
        """
    )
