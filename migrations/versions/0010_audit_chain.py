"""Tamper evidence for the audit log (issue 14): committed audit rows are sealed into a hash chain in id order
by the worker (audit/chain.py), never on the request path.

- `audit_chain`: one digest per sealed row, SHA-256 of the previous digest and the row's canonical text.
- `audit_anchors`: where rows were removed on purpose (retention), the digest of the last removed row, so
  that the chain still verifies from there.

The application role may add to both and never change or remove a seal. The chain starts when this release is
migrated: the first run seals every row there is.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-02
"""

from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(
        """
        CREATE TABLE audit_chain (
            audit_id   bigint PRIMARY KEY,
            digest     bytea NOT NULL,
            sealed_at  timestamptz NOT NULL DEFAULT now()
        );
        CREATE TABLE audit_anchors (
            audit_id    bigint PRIMARY KEY,
            digest      bytea NOT NULL,
            anchored_at timestamptz NOT NULL DEFAULT now(),
            reason      text NOT NULL
        );
        REVOKE UPDATE, DELETE, TRUNCATE ON audit_chain, audit_anchors FROM crm_app;
        """
    )


def downgrade() -> None:
    op.execute("DROP TABLE audit_anchors; DROP TABLE audit_chain")
