-- Purchase history. Items and payments are stored in their wire shape; the columns the SPI returns are
-- projected the same way by every query that returns a transaction.

-- name: history
-- The customer's purchase history as the contract's JSON array (text), newest first; no row when there is no
-- such customer. Read in the order of transactions_customer_idx: only `limit` rows, however many the customer
-- has. Absent optional fields are left out (jsonb_strip_nulls), as TransactionSchema dumps them; items and
-- payments are stored in their wire shape. (`t.date_created` is the column; the bare name would sort by the
-- output's epoch.)
SELECT c.customer_id, COALESCE((
    SELECT jsonb_agg(jsonb_strip_nulls(jsonb_build_object(
               'date_created', extract(epoch FROM t.date_created)::bigint, 'receipt_id', t.receipt_id,
               'order_id', t.order_id, 'order_external_id', t.order_external_id, 'store_id', t.store_id,
               'store_name', t.store_name, 'currency_code', t.currency_code, 'roundoff', t.roundoff::text,
               'items', t.items, 'payments', t.payments))
           ORDER BY t.date_created DESC, t.transaction_id DESC)
    FROM (SELECT * FROM transactions WHERE customer_id = c.customer_id
          ORDER BY date_created DESC, transaction_id DESC LIMIT %(limit)s) t), '[]')::text AS document
FROM customers c
WHERE c.customer_id = %(customer_id)s AND c.erased_at IS NULL

-- name: upsert
-- One row per Sitoo order: an order posted again replaces the stored one, and moves to the customer it
-- now names. Transactions without an order id are always new rows (NULL never conflicts).
INSERT INTO transactions (customer_id, order_id, order_external_id, receipt_id, date_created, store_id,
                          store_name, currency_code, roundoff, items, payments, total)
VALUES (%(customer_id)s, %(order_id)s, %(order_external_id)s, %(receipt_id)s, to_timestamp(%(date_created)s),
        %(store_id)s, %(store_name)s, %(currency_code)s, %(roundoff)s, %(items)s, %(payments)s, %(total)s)
ON CONFLICT (order_id) DO UPDATE SET
    customer_id = excluded.customer_id, order_external_id = excluded.order_external_id,
    receipt_id = excluded.receipt_id, date_created = excluded.date_created, store_id = excluded.store_id,
    store_name = excluded.store_name, currency_code = excluded.currency_code, roundoff = excluded.roundoff,
    items = excluded.items, payments = excluded.payments, total = excluded.total, updated_at = now()
RETURNING extract(epoch FROM date_created)::bigint AS date_created, receipt_id, order_id, order_external_id,
          store_id, store_name, currency_code, roundoff::text AS roundoff, items, payments

-- name: customer_of_orders
-- The customer of the purchase a refund returns.
SELECT customer_id FROM transactions WHERE order_id = ANY(%(order_ids)s::bigint[]) ORDER BY order_id LIMIT 1

-- name: customers_with_orders
-- A page of the customers with stored Sitoo orders, in id order after `after` (the program's rebuild).
SELECT DISTINCT customer_id FROM transactions
WHERE order_id IS NOT NULL AND customer_id > %(after)s AND (%(customer_id)s::uuid IS NULL OR customer_id = %(customer_id)s)
ORDER BY customer_id LIMIT %(limit)s

-- name: orders
-- A customer's stored Sitoo orders (transactions with an order id) in the wire shape, oldest first.
SELECT jsonb_strip_nulls(jsonb_build_object(
           'date_created', extract(epoch FROM date_created)::bigint, 'order_id', order_id,
           'store_id', store_id, 'store_name', store_name, 'currency_code', currency_code,
           'roundoff', roundoff::text, 'items', items, 'payments', payments)) AS transaction
FROM transactions WHERE customer_id = %(customer_id)s AND order_id IS NOT NULL
ORDER BY date_created, transaction_id

-- name: count_orders
SELECT count(*)::int AS n FROM transactions
WHERE order_id IS NOT NULL AND (%(customer_id)s::uuid IS NULL OR customer_id = %(customer_id)s)

-- name: delete_by_order_id
DELETE FROM transactions WHERE order_id = %(order_id)s

-- name: purchases_sections
-- The built-in sections provider `purchases` (service.PurchasesSections), a plugins.SqlSectionsProvider: an
-- expression over the customer's read (`w.customer_id`, customers/document.py). A "Purchases" section with the
-- number of transactions and one money total per currency (the currency of the latest purchase first); NULL,
-- no section, for a customer without transactions. Reads only this customer's rows (transactions_customer_idx).
SELECT json_build_array(json_build_object(
           'title', 'Purchases',
           'values', array_to_json(
               json_build_object('type', 'text', 'title', 'Transactions', 'text', sum(t.transactions)::text)
               || array_agg(json_build_object('type', 'money', 'title', 'Total ' || t.currency_code, 'value', t.total)
                            ORDER BY t.latest DESC, t.currency_code))))
FROM (SELECT currency_code, count(*) AS transactions, sum(total)::text AS total, max(date_created) AS latest
      FROM transactions WHERE customer_id = w.customer_id GROUP BY currency_code) t
HAVING count(*) > 0

-- name: personal_data
-- Every transaction of the customer as stored (the export); an erasure keeps them (accounting).
SELECT COALESCE(jsonb_agg(to_jsonb(t) - 'customer_id' ORDER BY t.date_created, t.transaction_id), '[]') AS held
FROM transactions t WHERE t.customer_id = %(customer_id)s

-- name: merge
-- A merge (customers.service.merge): the duplicate's purchase history becomes the customer's.
UPDATE transactions SET customer_id = %(into)s WHERE customer_id = %(merged)s
