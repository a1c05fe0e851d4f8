-- Promotions and bonus checks held by customers, the redeems that use them, and the purchases that consume them.
--
-- Lock order, everywhere: the customer row (FOR NO KEY UPDATE: it serialises the loyalty changes of one
-- customer without blocking inserts that merely reference the customer), then the redeem being undone, then
-- bonus checks by id, then promotions by id. Writers that all take their locks in this order cannot deadlock.

-- name: valid_now
-- When a promotion or bonus check can be seen and redeemed: inside its validity window (`valid_to` exclusive).
-- The one statement of the rule: every query here that needs it includes it, over the item's alias `item`.
(item.valid_from IS NULL OR item.valid_from <= now()) AND (item.valid_to IS NULL OR item.valid_to > now())

-- name: customer_promotions
-- The customer's promotions valid now, oldest grant first: a member of the customer document over its row `c`
-- (customers/queries.sql: document).
COALESCE((
    SELECT json_agg(json_build_object(
               'promotion_id', item.promotion_id,
               'promotion_type', json_build_object(
                   'type', item.promotion_type,
                   'value_money', item.value_money::text,
                   'value_int', item.value_int,
                   'value_string', item.value_string),
               'name', item.name,
               'description', item.description,
               'redeemed', item.date_redeemed IS NOT NULL,
               'date_redeemed', extract(epoch FROM item.date_redeemed)::bigint)
           ORDER BY item.created_at, item.promotion_id)
    FROM promotions item
    WHERE item.customer_id = c.customer_id AND {valid_now}), '[]')

-- name: customer_bonus_checks
COALESCE((
    SELECT json_agg(json_build_object(
               'bonus_check_id', item.bonus_check_id,
               'name', item.name,
               'description', item.description,
               'cart_amount', item.cart_amount::text,
               'redeemed', item.date_redeemed IS NOT NULL,
               'date_redeemed', extract(epoch FROM item.date_redeemed)::bigint)
           ORDER BY item.created_at, item.bonus_check_id)
    FROM bonus_checks item
    WHERE item.customer_id = c.customer_id AND {valid_now}), '[]')

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
-- The first lock of every change to a customer's items (this area reads the customer row, never writes it).
SELECT customer_id FROM customers WHERE customer_id = %(customer_id)s AND erased_at IS NULL FOR NO KEY UPDATE

-- name: lock_customers
-- Several customers' rows, in id order (so that two writers locking overlapping sets cannot deadlock).
SELECT customer_id FROM customers WHERE customer_id = ANY(%(customer_ids)s::uuid[]) ORDER BY customer_id
FOR NO KEY UPDATE

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
SELECT item.bonus_check_id AS item_id, item.date_redeemed IS NOT NULL AS redeemed,
       item.consumed_at IS NOT NULL AS consumed, {valid_now} AS valid
FROM bonus_checks item
WHERE item.bonus_check_id = ANY(%(item_ids)s::text[]) AND item.customer_id = %(customer_id)s
ORDER BY item.bonus_check_id
FOR UPDATE

-- name: lock_promotions
SELECT item.promotion_id AS item_id, item.date_redeemed IS NOT NULL AS redeemed,
       item.consumed_at IS NOT NULL AS consumed, {valid_now} AS valid
FROM promotions item
WHERE item.promotion_id = ANY(%(item_ids)s::text[]) AND item.customer_id = %(customer_id)s
ORDER BY item.promotion_id
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

-- name: order_consumers
-- The customers whose items an order consumes now: the ones set_consumed locks before it releases them.
SELECT customer_id FROM bonus_checks WHERE consumed_order_id = %(order_id)s
UNION
SELECT customer_id FROM promotions WHERE consumed_order_id = %(order_id)s

-- name: release_promotions
-- An order updated or cancelled gives back the promotions it no longer uses. The redeem stays: undoing it
-- is the POS's call (DELETE /customers/<id>/redeem/<redeem_id>), which is allowed again now. An item the
-- purchase used without a redeem (consume_* marked it redeemed) is unredeemed again.
UPDATE promotions p SET consumed_order_id = NULL, consumed_at = NULL,
    date_redeemed = CASE WHEN EXISTS (
        SELECT 1 FROM redeem_items i JOIN redeems r USING (redeem_id)
        WHERE i.kind = 'promotion' AND i.item_id = p.promotion_id AND r.undone_at IS NULL) THEN p.date_redeemed END
WHERE consumed_order_id = %(order_id)s AND NOT (promotion_id = ANY(%(keep)s::text[]))

-- name: release_bonus_checks
UPDATE bonus_checks b SET consumed_order_id = NULL, consumed_at = NULL,
    date_redeemed = CASE WHEN EXISTS (
        SELECT 1 FROM redeem_items i JOIN redeems r USING (redeem_id)
        WHERE i.kind = 'bonus_check' AND i.item_id = b.bonus_check_id AND r.undone_at IS NULL) THEN b.date_redeemed END
WHERE consumed_order_id = %(order_id)s AND NOT (bonus_check_id = ANY(%(keep)s::text[]))

-- name: consume_promotions
-- A purchase uses the customer's promotions named on its items (one already used by another purchase stays
-- with that one). An item used without a redeem counts as redeemed by the purchase.
UPDATE promotions
SET consumed_order_id = %(order_id)s, consumed_at = COALESCE(consumed_at, now()),
    date_redeemed = COALESCE(date_redeemed, now())
WHERE promotion_id = ANY(%(ids)s::text[]) AND customer_id = %(customer_id)s
  AND (consumed_order_id IS NULL OR consumed_order_id = %(order_id)s)

-- name: consume_bonus_checks
UPDATE bonus_checks
SET consumed_order_id = %(order_id)s, consumed_at = COALESCE(consumed_at, now()),
    date_redeemed = COALESCE(date_redeemed, now())
WHERE bonus_check_id = ANY(%(ids)s::text[]) AND customer_id = %(customer_id)s
  AND (consumed_order_id IS NULL OR consumed_order_id = %(order_id)s)

-- name: record_conflicts
-- After set_consumed: the items the order names that it could not consume, with the reason, replacing what
-- was recorded for the order before (an update that no longer names an item, or now consumes it, clears it).
WITH named (kind, item_id) AS (
    SELECT 'bonus_check', unnest(%(bonus_checks)s::text[])
    UNION
    SELECT 'promotion', unnest(%(promotions)s::text[])
), item AS (
    SELECT n.kind, n.item_id, COALESCE(b.customer_id, p.customer_id) AS holder,
           COALESCE(b.consumed_order_id, p.consumed_order_id) AS consumed_by
    FROM named n
    LEFT JOIN bonus_checks b ON n.kind = 'bonus_check' AND b.bonus_check_id = n.item_id
    LEFT JOIN promotions p ON n.kind = 'promotion' AND p.promotion_id = n.item_id
), conflict AS (
    SELECT kind, item_id,
           CASE WHEN holder IS NULL THEN 'unknown_item'
                WHEN holder <> %(customer_id)s THEN 'another_customers_item'
                ELSE 'used_by_another_order' END AS reason,
           CASE WHEN holder = %(customer_id)s THEN consumed_by END AS other_order_id,
           CASE WHEN holder <> %(customer_id)s THEN holder END AS holder_customer_id
    FROM item
    WHERE holder IS DISTINCT FROM %(customer_id)s OR consumed_by IS DISTINCT FROM %(order_id)s
), cleared AS (
    DELETE FROM item_conflicts c WHERE c.order_id = %(order_id)s
      AND NOT EXISTS (SELECT 1 FROM conflict x WHERE x.kind = c.kind AND x.item_id = c.item_id)
)
INSERT INTO item_conflicts (order_id, kind, item_id, customer_id, reason, other_order_id, holder_customer_id)
SELECT %(order_id)s, kind, item_id, %(customer_id)s, reason, other_order_id, holder_customer_id FROM conflict
ON CONFLICT (order_id, kind, item_id) DO UPDATE
SET customer_id = excluded.customer_id, reason = excluded.reason, other_order_id = excluded.other_order_id,
    holder_customer_id = excluded.holder_customer_id, last_seen_at = now()

-- name: clear_conflicts
DELETE FROM item_conflicts WHERE order_id = %(order_id)s

-- name: conflicts
SELECT order_id, kind, item_id, customer_id::text, reason, other_order_id, holder_customer_id::text,
       first_seen_at, last_seen_at
FROM item_conflicts
WHERE (%(reason)s::text IS NULL OR reason = %(reason)s)
  AND (%(before)s::timestamptz IS NULL OR first_seen_at < %(before)s)
ORDER BY first_seen_at DESC, order_id DESC, kind, item_id
LIMIT %(limit)s

-- name: conflict_counts
SELECT reason, count(*)::int AS conflicts FROM item_conflicts GROUP BY reason ORDER BY reason

-- name: personal_data
-- Every promotion, bonus check and redeem of the customer, used or not, as stored (the export).
SELECT jsonb_build_object(
    'promotions', COALESCE((SELECT jsonb_agg(to_jsonb(p) - 'customer_id' ORDER BY p.created_at, p.promotion_id)
                            FROM promotions p WHERE p.customer_id = %(customer_id)s), '[]'),
    'bonus_checks', COALESCE((SELECT jsonb_agg(to_jsonb(b) - 'customer_id' ORDER BY b.created_at, b.bonus_check_id)
                              FROM bonus_checks b WHERE b.customer_id = %(customer_id)s), '[]'),
    'redeems', COALESCE((SELECT jsonb_agg(to_jsonb(r) - 'customer_id' ORDER BY r.created_at, r.redeem_id)
                         FROM redeems r WHERE r.customer_id = %(customer_id)s), '[]')) AS held

-- name: merge_items
-- A merge (customers.service.merge): the duplicate's promotions, bonus checks, redeems and the conflicts its
-- purchases met become the customer's.
WITH promotions AS (UPDATE promotions SET customer_id = %(into)s WHERE customer_id = %(merged)s),
     bonus_checks AS (UPDATE bonus_checks SET customer_id = %(into)s WHERE customer_id = %(merged)s),
     conflicts AS (UPDATE item_conflicts SET customer_id = %(into)s WHERE customer_id = %(merged)s)
UPDATE redeems SET customer_id = %(into)s WHERE customer_id = %(merged)s

-- name: merged_into
-- The customer a merged duplicate became (its row names it; a merge re-points the duplicates merged before).
SELECT merged_into FROM customers WHERE customer_id = %(customer_id)s AND merged_into IS NOT NULL
