-- The loyalty program: its versions, the points ledger (append-only), the points each order booked, and
-- each customer's account (balance, shortfall, tier) kept with the ledger in the same transaction.

-- name: add_version
INSERT INTO program_versions (document, set_by) VALUES (%(document)s, %(set_by)s)
RETURNING version, document, valid_from

-- name: current_version
SELECT version, document, valid_from FROM program_versions ORDER BY version DESC LIMIT 1

-- name: version_at
-- The version in force at a time: the latest that took effect by then; for a time before the first, the first
-- (a program adopted over history judges the older purchases by its first version).
SELECT version, document, valid_from FROM program_versions
ORDER BY valid_from <= %(at)s DESC, CASE WHEN valid_from <= %(at)s THEN -version ELSE version END
LIMIT 1

-- name: version
SELECT version, document, valid_from FROM program_versions WHERE version = %(version)s

-- name: versions
SELECT version, document, valid_from, set_by FROM program_versions ORDER BY version DESC LIMIT %(limit)s

-- name: booked_order
SELECT order_id, customer_id, points, version, earned_at, original_order_id, multiplier FROM points_orders
WHERE order_id = %(order_id)s FOR UPDATE

-- name: refunded_so_far
-- What the refunds of an order other than this one have taken back (negative).
SELECT COALESCE(sum(points), 0)::int AS points FROM points_orders
WHERE original_order_id = %(original_order_id)s AND order_id <> %(order_id)s

-- name: save_order
INSERT INTO points_orders (order_id, customer_id, points, version, earned_at, original_order_id, multiplier)
VALUES (%(order_id)s, %(customer_id)s, %(points)s, %(version)s, %(earned_at)s, %(original_order_id)s,
        %(multiplier)s)
ON CONFLICT (order_id) DO UPDATE SET customer_id = excluded.customer_id, points = excluded.points,
    version = excluded.version, earned_at = excluded.earned_at, original_order_id = excluded.original_order_id

-- name: account
-- The account, created at zero when there is none, without rewriting an existing row (no dead tuple per read):
-- the SELECT does not see the CTE's row, so exactly one of the two answers.
WITH created AS (
    INSERT INTO points_accounts (customer_id) VALUES (%(customer_id)s) ON CONFLICT (customer_id) DO NOTHING
    RETURNING customer_id, balance, shortfall, tier
)
SELECT * FROM created
UNION ALL
SELECT customer_id, balance, shortfall, tier FROM points_accounts WHERE customer_id = %(customer_id)s

-- name: book
-- One ledger row and the account's new balance and shortfall, in one statement.
WITH entry AS (
    INSERT INTO points_ledger (customer_id, kind, points, order_id, bonus_check_id, version, reason, actor, earned_at)
    VALUES (%(customer_id)s, %(kind)s, %(points)s, %(order_id)s, %(bonus_check_id)s, %(version)s, %(reason)s,
            %(actor)s, COALESCE(%(earned_at)s, now()))
    RETURNING entry_id
)
UPDATE points_accounts SET balance = balance + %(points)s, shortfall = %(shortfall)s, updated_at = now()
WHERE customer_id = %(customer_id)s
RETURNING (SELECT entry_id FROM entry), balance

-- name: set_shortfall
UPDATE points_accounts SET shortfall = %(shortfall)s, updated_at = now() WHERE customer_id = %(customer_id)s

-- name: set_standing
-- The tier and the card's figures (service._set_standing), in one statement under the program version that
-- computes them. From one pass over the customer's ledger: the points earned (less reversed) since `since`,
-- which tiers are reached by (opening balances are no earnings), and the points that will have expired by
-- `cutoff` (oldest first, as expiry_due), no more than the balance. The tier is the one with the highest
-- threshold the earnings reach, the next tier the lowest they do not (tiers as parallel arrays). Returns the tier.
WITH figures AS (
    SELECT COALESCE(sum(points) FILTER (WHERE kind IN ('earned', 'reversed') AND earned_at > %(since)s), 0)::int
               AS earned,
           GREATEST(0, COALESCE(sum(points) FILTER (WHERE points > 0 AND earned_at <= %(cutoff)s), 0)
                       + COALESCE(sum(points) FILTER (WHERE points < 0), 0))::int AS due
    FROM points_ledger WHERE customer_id = %(customer_id)s
),
tiers AS (SELECT * FROM unnest(%(tier_names)s::text[], %(tier_points)s::int[]) AS t(name, points))
UPDATE points_accounts a
SET tier = (SELECT name FROM tiers WHERE points <= f.earned ORDER BY points DESC LIMIT 1),
    next_tier = (SELECT name FROM tiers WHERE points > f.earned ORDER BY points LIMIT 1),
    to_next_tier = (SELECT min(points) FROM tiers WHERE points > f.earned) - f.earned,
    expiring_soon = LEAST(f.due, a.balance), standing_version = %(version)s
FROM figures f
WHERE a.customer_id = %(customer_id)s
RETURNING a.tier

-- name: expiry_due
-- Oldest first: the credits earned up to the cutoff, less every debit so far, are what has expired by now.
SELECT GREATEST(0,
           COALESCE(sum(points) FILTER (WHERE points > 0 AND earned_at <= %(cutoff)s), 0)
           + COALESCE(sum(points) FILTER (WHERE points < 0), 0))::int AS due
FROM points_ledger WHERE customer_id = %(customer_id)s

-- name: customers_to_refresh
-- The daily job's customers: credits old enough to expire, to leave the tier window or to expire within 30
-- days; or figures computed under an older program version.
SELECT customer_id FROM points_ledger WHERE points > 0 AND earned_at <= %(cutoff)s
UNION
SELECT customer_id FROM points_accounts WHERE standing_version IS DISTINCT FROM %(version)s
ORDER BY customer_id

-- name: ledger
SELECT entry_id, kind, points, order_id, bonus_check_id, version, reason, actor, earned_at, booked_at
FROM points_ledger WHERE customer_id = %(customer_id)s AND (%(before)s::bigint IS NULL OR entry_id < %(before)s)
ORDER BY entry_id DESC LIMIT %(limit)s

-- name: unbalanced_accounts
-- Accounts whose stored balance is not the ledger's sum (crm-provider program verify).
SELECT a.customer_id, a.balance, COALESCE(l.points, 0)::int AS ledger
FROM points_accounts a
LEFT JOIN (SELECT customer_id, sum(points) AS points FROM points_ledger GROUP BY customer_id) l USING (customer_id)
WHERE a.balance <> COALESCE(l.points, 0)
UNION ALL
SELECT l.customer_id, NULL, l.points::int FROM (SELECT customer_id, sum(points) AS points FROM points_ledger
                                             GROUP BY customer_id) l
WHERE NOT EXISTS (SELECT 1 FROM points_accounts a WHERE a.customer_id = l.customer_id)

-- name: liability
-- Finance's report at a time: points outstanding and the program's bonus checks outstanding then.
SELECT COALESCE((SELECT sum(points) FROM points_ledger WHERE booked_at <= %(at)s), 0)::bigint AS points_outstanding,
       count(b.*)::int AS bonus_checks_outstanding,
       COALESCE(sum(b.cart_amount), 0)::text AS bonus_checks_value
FROM bonus_checks b
WHERE b.bonus_check_id LIKE 'points-%%' AND b.created_at <= %(at)s
  AND (b.date_redeemed IS NULL OR b.date_redeemed > %(at)s) AND (b.consumed_at IS NULL OR b.consumed_at > %(at)s)
  AND (b.valid_to IS NULL OR b.valid_to > %(at)s)

-- name: monthly
SELECT to_char(date_trunc('month', booked_at), 'YYYY-MM') AS month,
       COALESCE(sum(points) FILTER (WHERE kind = 'earned'), 0)::bigint AS earned,
       COALESCE(-sum(points) FILTER (WHERE kind = 'converted'), 0)::bigint AS converted,
       COALESCE(-sum(points) FILTER (WHERE kind = 'expired'), 0)::bigint AS expired,
       COALESCE(-sum(points) FILTER (WHERE kind = 'reversed'), 0)::bigint AS reversed
FROM points_ledger WHERE booked_at <= %(at)s
GROUP BY 1 ORDER BY 1

-- name: card_sections
-- The program's section on the customer card (a plugins.SqlSectionsProvider over the customer `w`): "Customer
-- Info" with the balance, then what the program's `card` lists: the tier, the points to the next tier, the
-- points expiring within 30 days. All of them are columns of the account (service._set_standing keeps them),
-- so the card costs the customer read one row and no subquery of the ledger. No section while no program
-- exists.
SELECT jsonb_build_array(jsonb_build_object('title', 'Customer Info', 'values',
           jsonb_build_array(jsonb_build_object('type', 'text', 'title', 'Bonus Points',
                                                'text', COALESCE(a.balance, 0)::text))
           || CASE WHEN v.card ? 'tier' AND a.tier IS NOT NULL
                   THEN jsonb_build_array(jsonb_build_object('type', 'text', 'title', 'Tier', 'text', a.tier))
                   ELSE '[]' END
           || CASE WHEN v.card ? 'to_next_tier' AND a.next_tier IS NOT NULL
                   THEN jsonb_build_array(jsonb_build_object('type', 'text', 'title', 'Points to ' || a.next_tier,
                                                             'text', a.to_next_tier::text))
                   ELSE '[]' END
           || CASE WHEN v.card ? 'expiring'
                   THEN jsonb_build_array(jsonb_build_object('type', 'text', 'title', 'Expiring within 30 days',
                                                             'text', COALESCE(a.expiring_soon, 0)::text))
                   ELSE '[]' END))
FROM (SELECT document->'card' AS card FROM program_versions ORDER BY version DESC LIMIT 1) v
LEFT JOIN points_accounts a ON a.customer_id = w.customer_id

-- name: personal_data
-- The customer's points account and whole ledger (the export); an erasure keeps them (the liability report).
SELECT jsonb_build_object(
    'account', (SELECT to_jsonb(a) - 'customer_id' FROM points_accounts a WHERE a.customer_id = %(customer_id)s),
    'ledger', COALESCE((SELECT jsonb_agg(to_jsonb(l) - 'customer_id' ORDER BY l.entry_id)
                        FROM points_ledger l WHERE l.customer_id = %(customer_id)s), '[]')) AS held

-- The `bonus_points` column of the customers file (customers/transfer.py): set-based from the import's
-- staging table `customer_import` (customer_id, extra).

-- name: import_owing
-- The imported customers with an opening balance who owe a shortfall (service.import_opening_balances).
-- Each account is probed by its key (LATERAL ... LIMIT 1), as in the statement below.
SELECT s.customer_id, (s.extra->>'bonus_points')::int AS points
FROM customer_import s
CROSS JOIN LATERAL (SELECT a.shortfall FROM points_accounts a WHERE a.customer_id = s.customer_id LIMIT 1) a
WHERE s.existing AND s.extra ? 'bonus_points' AND a.shortfall > 0
ORDER BY s.customer_id

-- name: import_opening_balances
-- The others: an 'opening' ledger row of the difference to the stored balance (a new customer has none),
-- and the balance.
WITH given AS (
    SELECT s.customer_id, (s.extra->>'bonus_points')::int AS points, COALESCE(a.balance, 0) AS balance
    FROM customer_import s
    LEFT JOIN LATERAL (SELECT a.balance, a.shortfall FROM points_accounts a
                       WHERE s.existing AND a.customer_id = s.customer_id LIMIT 1) a ON true
    WHERE s.extra ? 'bonus_points' AND COALESCE(a.shortfall, 0) = 0
), entries AS (
    INSERT INTO points_ledger (customer_id, kind, points, reason, earned_at)
    SELECT customer_id, 'opening', points - balance, 'opening balance (import)', now() FROM given
    WHERE points <> balance
)
INSERT INTO points_accounts (customer_id, balance)
SELECT customer_id, points FROM given
ON CONFLICT (customer_id) DO UPDATE SET balance = excluded.balance, updated_at = now()
WHERE points_accounts.balance <> excluded.balance

-- name: export_balance
SELECT a.balance FROM points_accounts a WHERE a.customer_id = c.customer_id

-- A merge (customers.service.merge): the duplicate's points become the customer's, its ledger rows with them
-- (each keeps its cause and time: the windows and the expiry go on counting them), and its balance and
-- shortfall are added to the customer's.

-- name: merge_ledger
WITH orders AS (UPDATE points_orders SET customer_id = %(into)s WHERE customer_id = %(merged)s)
UPDATE points_ledger SET customer_id = %(into)s WHERE customer_id = %(merged)s

-- name: merge_account
WITH gone AS (DELETE FROM points_accounts WHERE customer_id = %(merged)s RETURNING balance, shortfall)
INSERT INTO points_accounts (customer_id, balance, shortfall)
SELECT %(into)s, balance, shortfall FROM gone
ON CONFLICT (customer_id) DO UPDATE SET balance = points_accounts.balance + excluded.balance,
    shortfall = points_accounts.shortfall + excluded.shortfall, updated_at = now()
