-- Sitoo events: the received events, their processing, what purchases consume, the backfill cursor.

-- name: insert_events
-- A resent event (same event_id) is left as it is: RETURNING names only the events new to the CRM.
INSERT INTO inbound_events (event_id, event_type, event_date, account_id, order_id, order_event_type, data,
                            status, reason)
SELECT e.event_id, e.event_type, to_timestamp(e.event_date), e.account_id, e.order_id, e.order_event_type,
       e.data, e.status, e.reason
FROM jsonb_to_recordset(%(events)s) AS e(event_id uuid, event_type text, event_date bigint, account_id bigint,
                                         order_id bigint, order_event_type text, data jsonb, status text,
                                         reason text)
ON CONFLICT (event_id) DO NOTHING
RETURNING event_id

-- name: defer_processing
-- One procrastinate job per new order event, queued by procrastinate's own SQL function inside the request's
-- transaction: the event and its job are stored together or not at all. The lock `order:<id>` makes the
-- jobs of one order run one at a time, in the order they were queued.
SELECT procrastinate_defer_jobs_v1(ARRAY(
    SELECT ROW(%(queue)s, %(task)s, 0, 'order:' || j.order_id, NULL,
               jsonb_build_object('event_id', j.event_id), NULL)::procrastinate_job_to_defer_v1
    FROM unnest(%(event_ids)s::text[], %(order_ids)s::bigint[]) WITH ORDINALITY AS j(event_id, order_id, n)
    ORDER BY j.n
)) AS job_ids

-- name: get_event
SELECT * FROM inbound_events WHERE event_id = %(event_id)s

-- name: lock_event
SELECT * FROM inbound_events WHERE event_id = %(event_id)s FOR UPDATE

-- name: finish_event
UPDATE inbound_events
SET status = %(status)s, reason = %(reason)s, customer_id = %(customer_id)s, attempts = attempts + 1,
    last_error = NULL, processed_at = now()
WHERE event_id = %(event_id)s

-- name: record_failure
-- A failed attempt; the last one (`final`) gives the event up.
UPDATE inbound_events
SET attempts = attempts + 1, last_error = %(error)s,
    status = CASE WHEN %(final)s THEN 'failed' ELSE status END,
    processed_at = CASE WHEN %(final)s THEN now() END
WHERE event_id = %(event_id)s AND status = 'pending'

-- name: event_counts
SELECT event_type, status, reason, count(*)::int AS count
FROM inbound_events
GROUP BY event_type, status, reason
ORDER BY event_type, status, reason NULLS FIRST

-- name: customer_by_member_number
SELECT customer_id FROM customers WHERE member_number = %(member_number)s AND erased_at IS NULL

-- name: customer_of_orders
-- The customer of the purchase a refund returns.
SELECT customer_id FROM transactions WHERE order_id = ANY(%(order_ids)s::bigint[]) ORDER BY order_id LIMIT 1

-- name: release_promotions
-- An order updated or cancelled gives back the promotions it no longer uses. The redeem stays: undoing it
-- is the POS's call (DELETE /customers/{id}/redeem/{redeem_id}), which is allowed again now. An item the
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

-- name: sync_cursor
SELECT next_order_id FROM order_sync_state WHERE account_id = %(account_id)s

-- name: save_sync_cursor
INSERT INTO order_sync_state (account_id, next_order_id) VALUES (%(account_id)s, %(next_order_id)s)
ON CONFLICT (account_id) DO UPDATE SET next_order_id = excluded.next_order_id, updated_at = now()
