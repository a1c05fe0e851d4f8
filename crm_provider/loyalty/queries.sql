-- Promotions and bonus checks held by customers.

-- name: upsert_promotion
-- Granting a promotion that exists already resets it to the given state (not redeemed).
INSERT INTO promotions (promotion_id, customer_id, name, description, promotion_type, value_money, value_int,
                        value_string, valid_from, valid_to)
VALUES (%(promotion_id)s, %(customer_id)s, %(name)s, %(description)s, %(type)s, %(value_money)s, %(value_int)s,
        %(value_string)s, %(valid_from)s, %(valid_to)s)
ON CONFLICT (promotion_id) DO UPDATE SET
    customer_id = excluded.customer_id, name = excluded.name, description = excluded.description,
    promotion_type = excluded.promotion_type, value_money = excluded.value_money, value_int = excluded.value_int,
    value_string = excluded.value_string, valid_from = excluded.valid_from, valid_to = excluded.valid_to,
    date_redeemed = NULL, consumed_order_id = NULL, consumed_at = NULL
