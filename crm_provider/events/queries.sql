-- Sitoo events: the received events, their processing, the backfill cursor.

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

-- name: sync_cursor
SELECT next_order_id FROM order_sync_state WHERE account_id = %(account_id)s

-- name: save_sync_cursor
INSERT INTO order_sync_state (account_id, next_order_id) VALUES (%(account_id)s, %(next_order_id)s)
ON CONFLICT (account_id) DO UPDATE SET next_order_id = excluded.next_order_id, updated_at = now()

-- name: personal_data
-- The Sitoo events that concerned the customer (the export): ids, times and outcomes.
SELECT COALESCE(jsonb_agg(jsonb_build_object('event_id', event_id, 'event_date', event_date, 'order_id', order_id,
                                             'order_event_type', order_event_type, 'status', status,
                                             'reason', reason, 'received_at', received_at,
                                             'processed_at', processed_at) ORDER BY received_at, event_id),
                '[]') AS held
FROM inbound_events WHERE customer_id = %(customer_id)s

-- name: trim_handled
-- A batch of the handled events received before `before`, oldest first (inbound_events_handled_idx), gone.
-- Rows another trim holds are skipped: two trims at once share the work, and nothing is deleted twice.
WITH old AS (
    SELECT event_id FROM inbound_events
    WHERE status IN ('processed', 'skipped', 'ignored') AND received_at < %(before)s
    ORDER BY received_at
    LIMIT %(limit)s
    FOR UPDATE SKIP LOCKED
)
DELETE FROM inbound_events e USING old WHERE e.event_id = old.event_id

-- name: merge
-- A merge (customers.service.merge): the events that named the duplicate name the customer it became.
UPDATE inbound_events SET customer_id = %(into)s WHERE customer_id = %(merged)s
