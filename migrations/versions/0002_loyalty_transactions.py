"""Loyalty and history: promotions, bonus checks, redeems, transactions, the person registry,
and the `customer_documents` view that every customer read goes through.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-22
"""

from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(
        """
        -- Each promotion or bonus check a customer holds is its own row. `redeemed` on the wire is
        -- `date_redeemed IS NOT NULL`; `consumed_*` is set when a purchase used the item (it can then no
        -- longer be given back by undoing its redeem).
        CREATE TABLE promotions (
            promotion_id       text PRIMARY KEY,
            customer_id        uuid NOT NULL REFERENCES customers ON DELETE CASCADE,
            name               text NOT NULL,
            description        text,
            promotion_type     text NOT NULL CHECK (promotion_type IN ('cart_amount', 'cart_percent', 'manual', 'offer')),
            value_money        numeric(12, 2),
            value_int          integer CHECK (value_int BETWEEN 1 AND 100),
            value_string       text,
            valid_from         timestamptz,
            valid_to           timestamptz,
            date_redeemed      timestamptz,
            consumed_order_id  bigint,
            consumed_at        timestamptz,
            created_at         timestamptz NOT NULL DEFAULT now(),
            CHECK ((promotion_type = 'cart_amount') = (value_money IS NOT NULL)),
            CHECK ((promotion_type = 'cart_percent') = (value_int IS NOT NULL)),
            CHECK ((promotion_type = 'offer') = (value_string IS NOT NULL)),
            CHECK (valid_from IS NULL OR valid_to IS NULL OR valid_from < valid_to)
        );
        CREATE INDEX promotions_customer_idx ON promotions (customer_id, created_at);

        CREATE TABLE bonus_checks (
            bonus_check_id     text PRIMARY KEY,
            customer_id        uuid NOT NULL REFERENCES customers ON DELETE CASCADE,
            name               text NOT NULL,
            description        text,
            cart_amount        numeric(12, 2) NOT NULL,
            valid_from         timestamptz,
            valid_to           timestamptz,
            date_redeemed      timestamptz,
            consumed_order_id  bigint,
            consumed_at        timestamptz,
            created_at         timestamptz NOT NULL DEFAULT now(),
            CHECK (valid_from IS NULL OR valid_to IS NULL OR valid_from < valid_to)
        );
        CREATE INDEX bonus_checks_customer_idx ON bonus_checks (customer_id, created_at);

        CREATE TABLE redeems (
            redeem_id    text PRIMARY KEY CHECK (redeem_id ~ '^[0-9A-F]{32}$'),
            customer_id  uuid NOT NULL REFERENCES customers ON DELETE CASCADE,
            created_at   timestamptz NOT NULL DEFAULT now(),
            undone_at    timestamptz
        );
        CREATE INDEX redeems_customer_idx ON redeems (customer_id);

        CREATE TABLE redeem_items (
            redeem_id  text NOT NULL REFERENCES redeems ON DELETE CASCADE,
            kind       text NOT NULL CHECK (kind IN ('promotion', 'bonus_check')),
            item_id    text NOT NULL,
            PRIMARY KEY (redeem_id, kind, item_id)
        );

        -- Purchase history. Items and payments keep their wire shape (money as exact strings); `total` is
        -- what the payments add up to, for sums.
        CREATE TABLE transactions (
            transaction_id     bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
            customer_id        uuid NOT NULL REFERENCES customers ON DELETE CASCADE,
            order_id           bigint UNIQUE,
            order_external_id  text,
            receipt_id         text,
            date_created       timestamptz NOT NULL,
            store_id           text,
            store_name         text NOT NULL,
            currency_code      text NOT NULL CHECK (currency_code ~ '^[A-Z]{3}$'),
            roundoff           numeric(12, 2),
            items              jsonb NOT NULL,
            payments           jsonb NOT NULL DEFAULT '[]',
            total              numeric(14, 2) NOT NULL DEFAULT 0,
            created_at         timestamptz NOT NULL DEFAULT now(),
            updated_at         timestamptz NOT NULL DEFAULT now()
        );
        CREATE INDEX transactions_customer_idx ON transactions (customer_id, date_created DESC, transaction_id DESC);

        -- Public person records for /lookup_customers (the built-in `registry` lookup provider).
        CREATE TABLE person_registry (
            person_id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
            personal_id_norm  text,
            mobile            text,
            email_norm        text,
            company_id_norm   text,
            person            jsonb NOT NULL,
            imported_at       timestamptz NOT NULL DEFAULT now()
        );
        CREATE INDEX person_registry_personal_id_idx ON person_registry (personal_id_norm);
        CREATE INDEX person_registry_mobile_idx ON person_registry (mobile);
        CREATE INDEX person_registry_email_idx ON person_registry (email_norm);
        CREATE INDEX person_registry_company_id_idx ON person_registry (company_id_norm);

        -- One customer as the SPI shows it, in one read: the row, its consents and option values in
        -- catalogue order, and the promotions and bonus checks valid now.
        CREATE VIEW customer_documents AS
        SELECT c.*,
            ARRAY(
                SELECT cc.consent_id FROM customer_consents cc JOIN consents k USING (consent_id)
                WHERE cc.customer_id = c.customer_id ORDER BY k.position
            ) AS consents,
            COALESCE((
                SELECT jsonb_agg(jsonb_strip_nulls(jsonb_build_object(
                           'id', v.option_id,
                           'enum_values', CASE WHEN o.type <> 'text' THEN to_jsonb(v.enum_values) END,
                           'text', CASE WHEN o.type = 'text' THEN v.text END))
                       ORDER BY o.section, o.position)
                FROM customer_option_values v JOIN options o USING (option_id)
                WHERE v.customer_id = c.customer_id
            ), '[]') AS additional_options,
            COALESCE((
                SELECT jsonb_agg(jsonb_strip_nulls(jsonb_build_object(
                           'promotion_id', p.promotion_id,
                           'name', p.name,
                           'description', p.description,
                           'promotion_type', jsonb_build_object('type', p.promotion_type)
                               || jsonb_strip_nulls(jsonb_build_object(
                                      'value_money', p.value_money::text,
                                      'value_int', p.value_int,
                                      'value_string', p.value_string)),
                           'redeemed', p.date_redeemed IS NOT NULL,
                           'date_redeemed', extract(epoch FROM p.date_redeemed)::bigint))
                       ORDER BY p.created_at, p.promotion_id)
                FROM promotions p
                WHERE p.customer_id = c.customer_id
                  AND (p.valid_from IS NULL OR p.valid_from <= now())
                  AND (p.valid_to IS NULL OR p.valid_to > now())
            ), '[]') AS promotions,
            COALESCE((
                SELECT jsonb_agg(jsonb_strip_nulls(jsonb_build_object(
                           'bonus_check_id', b.bonus_check_id,
                           'name', b.name,
                           'description', b.description,
                           'cart_amount', b.cart_amount::text,
                           'redeemed', b.date_redeemed IS NOT NULL,
                           'date_redeemed', extract(epoch FROM b.date_redeemed)::bigint))
                       ORDER BY b.created_at, b.bonus_check_id)
                FROM bonus_checks b
                WHERE b.customer_id = c.customer_id
                  AND (b.valid_from IS NULL OR b.valid_from <= now())
                  AND (b.valid_to IS NULL OR b.valid_to > now())
            ), '[]') AS bonus_checks
        FROM customers c;
        """
    )


def downgrade() -> None:
    op.execute(
        """
        DROP VIEW IF EXISTS customer_documents;  -- 0006 dropped it
        DROP TABLE person_registry, transactions, redeem_items, redeems, bonus_checks, promotions;
        """
    )
