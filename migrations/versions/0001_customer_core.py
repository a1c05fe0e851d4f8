"""Customer core: customers, the consent and additional-option catalogues, the audit log.

Revision ID: 0001
Revises:
Create Date: 2026-11-22
"""

from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(
        """
        CREATE SEQUENCE member_number_seq START 100000;

        CREATE TABLE customers (
            customer_id            uuid PRIMARY KEY DEFAULT gen_random_uuid(),
            member_number          text NOT NULL,
            email                  text,
            email_norm             text,
            name_first             text,
            name_last              text,
            personal_id            text,
            personal_id_norm       text,
            company                text,
            company_id             text,
            company_id_norm        text,
            phone                  text,
            mobile                 text,
            invoice_address        jsonb,
            delivery_address       jsonb,
            gender                 text CHECK (gender IN ('male', 'female', 'undisclosed')),
            birthday               date,
            accepts_communication  text[] NOT NULL DEFAULT '{}',
            status_color           text CHECK (status_color IN ('red', 'orange', 'green')),
            status_text            text,
            voucher_passwords      text[] NOT NULL DEFAULT '{}',
            sections               jsonb NOT NULL DEFAULT '[]',
            store_id_home          text,
            created_at             timestamptz NOT NULL DEFAULT now(),
            updated_at             timestamptz NOT NULL DEFAULT now(),
            version                integer NOT NULL DEFAULT 1,
            erased_at              timestamptz,
            CHECK ((status_color IS NULL) = (status_text IS NULL))
        );
        -- The search keys, normalised by the service, unique among live customers (company id is not unique:
        -- one company may have several contacts).
        CREATE UNIQUE INDEX customers_member_number_key ON customers (member_number) WHERE erased_at IS NULL;
        CREATE UNIQUE INDEX customers_email_key ON customers (email_norm) WHERE erased_at IS NULL;
        CREATE UNIQUE INDEX customers_mobile_key ON customers (mobile) WHERE erased_at IS NULL;
        CREATE UNIQUE INDEX customers_personal_id_key ON customers (personal_id_norm) WHERE erased_at IS NULL;
        CREATE INDEX customers_company_id_idx ON customers (company_id_norm, updated_at DESC) WHERE erased_at IS NULL;

        CREATE TABLE consents (
            consent_id     text PRIMARY KEY,
            name           text NOT NULL,
            description    text,
            default_value  boolean NOT NULL DEFAULT false,
            position       integer NOT NULL
        );

        CREATE TABLE customer_consents (
            customer_id  uuid NOT NULL REFERENCES customers ON DELETE CASCADE,
            consent_id   text NOT NULL REFERENCES consents ON DELETE CASCADE,
            accepted_at  timestamptz NOT NULL DEFAULT now(),
            PRIMARY KEY (customer_id, consent_id)
        );

        CREATE TABLE option_sections (
            position  integer PRIMARY KEY,
            name      text NOT NULL
        );

        CREATE TABLE options (
            option_id     text PRIMARY KEY,
            section       integer NOT NULL REFERENCES option_sections (position),
            position      integer NOT NULL,
            name          text NOT NULL,
            type          text NOT NULL CHECK (type IN ('enum-single', 'enum-multi', 'text')),
            required      boolean NOT NULL DEFAULT false,
            enum_options  jsonb NOT NULL DEFAULT '[]'
        );

        CREATE TABLE customer_option_values (
            customer_id  uuid NOT NULL REFERENCES customers ON DELETE CASCADE,
            option_id    text NOT NULL REFERENCES options ON DELETE CASCADE,
            enum_values  text[] NOT NULL DEFAULT '{}',
            text         text,
            PRIMARY KEY (customer_id, option_id)
        );

        -- Append-only: who did what, from which store, till and staff member. Ids only, no personal data.
        CREATE TABLE audit_log (
            audit_id       bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
            at             timestamptz NOT NULL DEFAULT now(),
            operation      text NOT NULL,
            customer_id    text,
            http_status    smallint NOT NULL,
            request_id     text NOT NULL,
            credential     text NOT NULL,
            authenticated  boolean NOT NULL,
            store_id       text,
            staff_id       text,
            register_id    text,
            detail         jsonb
        );
        CREATE INDEX audit_log_customer_idx ON audit_log (customer_id, audit_id DESC) WHERE customer_id IS NOT NULL;
        CREATE INDEX audit_log_store_idx ON audit_log (store_id, audit_id DESC) WHERE store_id IS NOT NULL;

        CREATE FUNCTION audit_log_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            RAISE EXCEPTION 'audit_log is append-only: % refused', TG_OP USING ERRCODE = 'insufficient_privilege';
        END $$;
        CREATE TRIGGER audit_log_append_only BEFORE UPDATE OR DELETE ON audit_log
            FOR EACH ROW EXECUTE FUNCTION audit_log_append_only();
        """
    )


def downgrade() -> None:
    op.execute(
        """
        DROP TABLE audit_log;
        DROP FUNCTION audit_log_append_only();
        DROP TABLE customer_option_values, options, option_sections, customer_consents, consents, customers;
        DROP SEQUENCE member_number_seq;
        """
    )
