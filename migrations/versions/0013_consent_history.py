"""Every grant and withdrawal of a consent, kept (issue 15): when, through which store, staff member, register
and credential, and the consent's text as it was shown then (its name and description). The proof of consent
the GDPR asks for, and part of the customer's subject-access export. Append-only for the service's role.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-02
"""

from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(
        """
        CREATE TABLE consent_history (
            change_id    bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
            customer_id  uuid NOT NULL REFERENCES customers ON DELETE CASCADE,
            consent_id   text NOT NULL,
            granted      boolean NOT NULL,
            at           timestamptz NOT NULL DEFAULT now(),
            store_id     text,
            staff_id     text,
            register_id  text,
            credential   text,
            name         text,
            description  text
        );
        CREATE INDEX consent_history_customer_idx ON consent_history (customer_id, change_id);
        DO $$ BEGIN
            IF EXISTS (SELECT FROM pg_roles WHERE rolname = 'crm_app') THEN
                REVOKE UPDATE, DELETE, TRUNCATE ON consent_history FROM crm_app;
            END IF;
        END $$;
        """
    )


def downgrade() -> None:
    op.execute("DROP TABLE consent_history")
