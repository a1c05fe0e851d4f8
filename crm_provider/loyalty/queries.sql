-- Promotions and bonus checks held by customers, and the redeems that use them.
--
-- Lock order, everywhere: the customer row (FOR NO KEY UPDATE: it serialises the loyalty changes of one
-- customer without blocking inserts that merely reference the customer), then the redeem being undone, then
-- bonus checks by id, then promotions by id. Writers that all take their locks in this order cannot deadlock.

-- name: upsert_promotion
-- Granting a promotion that exists already resets it to the given state (not redeemed). Used by the demo
-- loader, which puts the contract's examples back as they are.
INSERT INTO promotions (promotion_id, customer_id, name, description, promotion_type, value_money, value_int,
                        value_string, valid_from, valid_to)
VALUES (%(promotion_id)s, %(customer_id)s, %(name)s, %(description)s, %(type)s, %(value_money)s, %(value_int)s,
        %(value_string)s, %(valid_from)s, %(valid_to)s)
ON CONFLICT (promotion_id) DO UPDATE SET
    customer_id = excluded.customer_id, name = excluded.name, description = excluded.description,
    promotion_type = excluded.promotion_type, value_money = excluded.value_money, value_int = excluded.value_int,
    value_string = excluded.value_string, valid_from = excluded.valid_from, valid_to = excluded.valid_to,
    date_redeemed = NULL, consumed_order_id = NULL, consumed_at = NULL

-- name: lock_customer
SELECT customer_id FROM customers WHERE customer_id = %(customer_id)s AND erased_at IS NULL FOR NO KEY UPDATE

-- name: grant_promotion
-- A new promotion, or the customer's own one replaced while it is neither redeemed nor consumed (a
-- redeemed item is part of a redeem that may still be undone). No row back: the id is taken.
INSERT INTO promotions (promotion_id, customer_id, name, description, promotion_type, value_money, value_int,
                        value_string, valid_from, valid_to)
VALUES (%(promotion_id)s, %(customer_id)s, %(name)s, %(description)s, %(type)s, %(value_money)s, %(value_int)s,
        %(value_string)s, %(valid_from)s, %(valid_to)s)
ON CONFLICT (promotion_id) DO UPDATE SET
    name = excluded.name, description = excluded.description, promotion_type = excluded.promotion_type,
    value_money = excluded.value_money, value_int = excluded.value_int, value_string = excluded.value_string,
    valid_from = excluded.valid_from, valid_to = excluded.valid_to
WHERE promotions.customer_id = excluded.customer_id
  AND promotions.date_redeemed IS NULL AND promotions.consumed_at IS NULL
RETURNING promotion_id, name, description, promotion_type, value_money::text AS value_money, value_int,
          value_string, valid_from, valid_to

-- name: grant_bonus_check
INSERT INTO bonus_checks (bonus_check_id, customer_id, name, description, cart_amount, valid_from, valid_to)
VALUES (%(bonus_check_id)s, %(customer_id)s, %(name)s, %(description)s, %(cart_amount)s, %(valid_from)s,
        %(valid_to)s)
ON CONFLICT (bonus_check_id) DO UPDATE SET
    name = excluded.name, description = excluded.description, cart_amount = excluded.cart_amount,
    valid_from = excluded.valid_from, valid_to = excluded.valid_to
WHERE bonus_checks.customer_id = excluded.customer_id
  AND bonus_checks.date_redeemed IS NULL AND bonus_checks.consumed_at IS NULL
RETURNING bonus_check_id, name, description, cart_amount::text AS cart_amount, valid_from, valid_to

-- name: promotion_holder
SELECT customer_id FROM promotions WHERE promotion_id = %(item_id)s

-- name: bonus_check_holder
SELECT customer_id FROM bonus_checks WHERE bonus_check_id = %(item_id)s

-- name: delete_promotion
-- Only while unused: a redeemed item stays until its redeem is undone, a consumed one for good.
DELETE FROM promotions
WHERE promotion_id = %(item_id)s AND customer_id = %(customer_id)s AND date_redeemed IS NULL AND consumed_at IS NULL
RETURNING promotion_id

-- name: delete_bonus_check
DELETE FROM bonus_checks
WHERE bonus_check_id = %(item_id)s AND customer_id = %(customer_id)s AND date_redeemed IS NULL AND consumed_at IS NULL
RETURNING bonus_check_id

-- name: lock_bonus_checks
-- The customer's own bonus checks among the ids, locked in id order, with what a redeem needs to know.
SELECT bonus_check_id AS item_id, date_redeemed IS NOT NULL AS redeemed, consumed_at IS NOT NULL AS consumed,
       (valid_from IS NULL OR valid_from <= now()) AND (valid_to IS NULL OR valid_to > now()) AS valid
FROM bonus_checks
WHERE bonus_check_id = ANY(%(item_ids)s::text[]) AND customer_id = %(customer_id)s
ORDER BY bonus_check_id
FOR UPDATE

-- name: lock_promotions
SELECT promotion_id AS item_id, date_redeemed IS NOT NULL AS redeemed, consumed_at IS NOT NULL AS consumed,
       (valid_from IS NULL OR valid_from <= now()) AND (valid_to IS NULL OR valid_to > now()) AS valid
FROM promotions
WHERE promotion_id = ANY(%(item_ids)s::text[]) AND customer_id = %(customer_id)s
ORDER BY promotion_id
FOR UPDATE

-- name: held_by_others
-- Which of the ids exist but belong to someone else (for the reason in a refusal; nothing is locked).
SELECT 'bonus_check' AS kind, bonus_check_id AS item_id FROM bonus_checks
WHERE bonus_check_id = ANY(%(bonus_checks)s::text[]) AND customer_id <> %(customer_id)s
UNION ALL
SELECT 'promotion', promotion_id FROM promotions
WHERE promotion_id = ANY(%(promotions)s::text[]) AND customer_id <> %(customer_id)s

-- name: redeem
-- The redeem, its items, and the items marked redeemed (`redeemed` on the wire is `date_redeemed IS NOT
-- NULL`), in one statement. The items are locked already (lock_bonus_checks, lock_promotions).
WITH redeem AS (
    INSERT INTO redeems (redeem_id, customer_id) VALUES (%(redeem_id)s, %(customer_id)s) RETURNING redeem_id
), items AS (
    INSERT INTO redeem_items (redeem_id, kind, item_id)
    SELECT redeem_id, 'bonus_check', unnest(%(bonus_checks)s::text[]) FROM redeem
    UNION ALL
    SELECT redeem_id, 'promotion', unnest(%(promotions)s::text[]) FROM redeem
), bonus AS (
    UPDATE bonus_checks SET date_redeemed = now()
    WHERE customer_id = %(customer_id)s AND bonus_check_id = ANY(%(bonus_checks)s::text[])
)
UPDATE promotions SET date_redeemed = now()
WHERE customer_id = %(customer_id)s AND promotion_id = ANY(%(promotions)s::text[])

-- name: lock_redeem
-- The customer's redeem, locked, with its items.
SELECT r.redeem_id, r.undone_at,
       ARRAY(SELECT i.item_id FROM redeem_items i
             WHERE i.redeem_id = r.redeem_id AND i.kind = 'bonus_check' ORDER BY i.item_id) AS bonus_checks,
       ARRAY(SELECT i.item_id FROM redeem_items i
             WHERE i.redeem_id = r.redeem_id AND i.kind = 'promotion' ORDER BY i.item_id) AS promotions
FROM redeems r
WHERE r.redeem_id = %(redeem_id)s AND r.customer_id = %(customer_id)s
FOR UPDATE

-- name: undo
-- The redeem undone and its items given back, in one statement. The items are locked already.
WITH undone AS (
    UPDATE redeems SET undone_at = now() WHERE redeem_id = %(redeem_id)s
), bonus AS (
    UPDATE bonus_checks SET date_redeemed = NULL
    WHERE customer_id = %(customer_id)s AND bonus_check_id = ANY(%(bonus_checks)s::text[])
)
UPDATE promotions SET date_redeemed = NULL
WHERE customer_id = %(customer_id)s AND promotion_id = ANY(%(promotions)s::text[])
