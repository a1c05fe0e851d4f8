"""`customer_wire`: each customer as the contract's Customer JSON, built by PostgreSQL in the read itself.

The service sends this document as it comes (plus what sections providers add) instead of building
dicts and serialising them through marshmallow on every read: measured, that was a third of a search's
Python time. `tests/test_customer_wire.py` holds the document to `CustomerSchema` field for field.
`customer_documents` (0002) stays for the previous release and goes in a later migration.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-22
"""

from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(
        """
        CREATE VIEW customer_wire AS
        SELECT c.customer_id, c.member_number, c.email_norm, c.mobile, c.personal_id_norm, c.company_id_norm,
               c.updated_at, c.erased_at,
               json_strip_nulls(json_build_object(
                   'customer_id', c.customer_id,
                   'member_number', c.member_number,
                   'email', c.email,
                   'name_first', c.name_first,
                   'name_last', c.name_last,
                   'personal_id', c.personal_id,
                   'company', c.company,
                   'company_id', c.company_id,
                   'phone', c.phone,
                   'mobile', c.mobile,
                   'invoice_address', c.invoice_address,
                   'delivery_address', c.delivery_address,
                   'gender', c.gender,
                   'birthday', to_char(c.birthday, 'YYYY-MM-DD'),
                   'accepts_communication', to_json(c.accepts_communication),
                   'consents', to_json(ARRAY(
                       SELECT cc.consent_id FROM customer_consents cc JOIN consents k USING (consent_id)
                       WHERE cc.customer_id = c.customer_id ORDER BY k.position)),
                   'additional_options', COALESCE((
                       SELECT json_agg(json_strip_nulls(json_build_object(
                                  'id', v.option_id,
                                  'enum_values', CASE WHEN o.type <> 'text' THEN to_json(v.enum_values) END,
                                  'text', CASE WHEN o.type = 'text' THEN v.text END))
                              ORDER BY o.section, o.position)
                       FROM customer_option_values v JOIN options o USING (option_id)
                       WHERE v.customer_id = c.customer_id), '[]'),
                   'status', CASE WHEN c.status_color IS NOT NULL
                                  THEN json_build_object('color', c.status_color, 'text', c.status_text) END,
                   'promotions', COALESCE((
                       SELECT json_agg(json_build_object(
                                  'promotion_id', p.promotion_id,
                                  'promotion_type', json_build_object(
                                      'type', p.promotion_type,
                                      'value_money', p.value_money::text,
                                      'value_int', p.value_int,
                                      'value_string', p.value_string),
                                  'name', p.name,
                                  'description', p.description,
                                  'redeemed', p.date_redeemed IS NOT NULL,
                                  'date_redeemed', extract(epoch FROM p.date_redeemed)::bigint)
                              ORDER BY p.created_at, p.promotion_id)
                       FROM promotions p
                       WHERE p.customer_id = c.customer_id
                         AND (p.valid_from IS NULL OR p.valid_from <= now())
                         AND (p.valid_to IS NULL OR p.valid_to > now())), '[]'),
                   'bonus_checks', COALESCE((
                       SELECT json_agg(json_build_object(
                                  'bonus_check_id', b.bonus_check_id,
                                  'name', b.name,
                                  'description', b.description,
                                  'cart_amount', b.cart_amount::text,
                                  'redeemed', b.date_redeemed IS NOT NULL,
                                  'date_redeemed', extract(epoch FROM b.date_redeemed)::bigint)
                              ORDER BY b.created_at, b.bonus_check_id)
                       FROM bonus_checks b
                       WHERE b.customer_id = c.customer_id
                         AND (b.valid_from IS NULL OR b.valid_from <= now())
                         AND (b.valid_to IS NULL OR b.valid_to > now())), '[]'),
                   'voucher_passwords', to_json(c.voucher_passwords),
                   'store_id_home', c.store_id_home,
                   'sections', c.sections)) AS document
        FROM customers c;
        """
    )


def downgrade() -> None:
    op.execute("DROP VIEW customer_wire")
