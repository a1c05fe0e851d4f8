-- The workshop: Sitoo's open service orders and Shopmonkey's open work orders, kept for the customer card.

-- name: sitoo_sections
-- The built-in sections provider `sitoo-service-orders` (service.ServiceOrderSections), over the customer `w`:
-- "Service", one value per open service order, oldest first; none without one.
SELECT jsonb_build_array(jsonb_build_object(
           'title', 'Service', 'values', jsonb_agg(o.card_value ORDER BY o.created, o.service_order_id)))
FROM sitoo_service_orders o WHERE o.customer_id = w.customer_id
HAVING count(*) > 0

-- name: shopmonkey_sections
-- The built-in sections provider `shopmonkey` (service.ShopmonkeySections): a section per open work order.
SELECT jsonb_agg(o.section ORDER BY o.updated_at, o.order_id)
FROM shopmonkey_orders o WHERE o.customer_id = w.customer_id

-- name: ensure_sync
INSERT INTO workshop_sync (source) VALUES (%(source)s) ON CONFLICT (source) DO NOTHING

-- name: sync_state
SELECT * FROM workshop_sync WHERE source = %(source)s

-- name: try_lock_sync
-- One sweep at a time: held by the sweeping connection's session, released when it ends.
SELECT pg_try_advisory_lock(727277, hashtext(%(source)s)) AS locked

-- name: unlock_sync
SELECT pg_advisory_unlock(727277, hashtext(%(source)s))

-- name: save_page
-- A page of the sweep: each order whose contact names a customer is kept, its values replaced when they
-- changed, and marked as seen open in this sweep; an order kept before whose contact names no one any more is
-- dropped. `touched` are orders the page named but that could not be read: what was kept of them stays.
WITH page AS (
    SELECT contact.*, {contact_holder} AS customer_id
    FROM jsonb_to_recordset(%(orders)s) AS contact(service_order_id text, revision integer, state text,
                                                   store_id text, created timestamptz, card_value jsonb,
                                                   mobile text, email text)
), kept AS (
    INSERT INTO sitoo_service_orders AS o (service_order_id, revision, state, customer_id, store_id, created,
                                           card_value, last_sweep)
    SELECT service_order_id, revision, state, customer_id, store_id, created, card_value, %(sweep)s
    FROM page WHERE customer_id IS NOT NULL
    ON CONFLICT (service_order_id) DO UPDATE
    SET revision = EXCLUDED.revision, state = EXCLUDED.state, customer_id = EXCLUDED.customer_id,
        store_id = EXCLUDED.store_id, created = EXCLUDED.created, card_value = EXCLUDED.card_value,
        last_sweep = EXCLUDED.last_sweep,
        synced_at = CASE WHEN o.revision = EXCLUDED.revision AND o.customer_id = EXCLUDED.customer_id
                         THEN o.synced_at ELSE now() END
    RETURNING o.service_order_id
), touched AS (
    UPDATE sitoo_service_orders SET last_sweep = %(sweep)s WHERE service_order_id = ANY(%(touched)s)
)
DELETE FROM sitoo_service_orders o USING page
WHERE o.service_order_id = page.service_order_id AND page.customer_id IS NULL

-- name: page_done
UPDATE workshop_sync SET resume_after = %(after)s, seen = seen + %(seen)s WHERE source = %(source)s

-- name: drop_closed
-- The sweep is over: what it did not see open has closed (or was cancelled).
DELETE FROM sitoo_service_orders WHERE last_sweep < %(sweep)s

-- name: sweep_done
UPDATE workshop_sync
SET sweep = sweep + 1, resume_after = NULL, seen = 0, last_success = now(), failures = 0, last_error = NULL,
    retry_at = NULL
WHERE source = %(source)s

-- name: sweep_failed
UPDATE workshop_sync
SET failures = failures + 1, last_error = %(error)s, retry_at = now() + make_interval(secs => %(delay)s)
WHERE source = %(source)s
RETURNING failures

-- name: syncs
SELECT * FROM workshop_sync ORDER BY source

-- name: sync_ages
-- Seconds since each source's last successful sync (the metric); NULL when it never succeeded.
SELECT source, extract(epoch FROM now() - last_success) AS age FROM workshop_sync

-- name: insert_shopmonkey_event
INSERT INTO shopmonkey_events (event_id, order_id, status, customer_key)
VALUES (%(event_id)s, %(order_id)s, %(status)s, %(customer_key)s)
ON CONFLICT (event_id) DO NOTHING
RETURNING event_id

-- name: defer_shopmonkey_event
-- Its job, queued in the request's transaction; the lock makes one order's events run one at a time, in order.
SELECT procrastinate_defer_jobs_v1(ARRAY[
    ROW(%(queue)s::text, %(task)s::text, 0, 'shopmonkey:' || %(order_id)s::text, NULL,
        jsonb_build_object('event_id', %(event_id)s::text), NULL)::procrastinate_job_to_defer_v1])

-- name: get_shopmonkey_event
SELECT * FROM shopmonkey_events WHERE event_id = %(event_id)s

-- name: lock_shopmonkey_event
SELECT * FROM shopmonkey_events WHERE event_id = %(event_id)s FOR UPDATE

-- name: finish_shopmonkey_event
-- Handled: the customer's key is not kept.
UPDATE shopmonkey_events
SET outcome = %(outcome)s, reason = %(reason)s, customer_key = NULL, attempts = attempts + 1, last_error = NULL,
    handled_at = now()
WHERE event_id = %(event_id)s

-- name: shopmonkey_event_failed
UPDATE shopmonkey_events
SET attempts = attempts + 1, last_error = %(error)s,
    outcome = CASE WHEN %(final)s THEN 'failed' ELSE outcome END,
    customer_key = CASE WHEN %(final)s THEN NULL ELSE customer_key END,
    handled_at = CASE WHEN %(final)s THEN now() END
WHERE event_id = %(event_id)s

-- name: trim_shopmonkey_events
-- A batch of the handled events received before `before` (shopmonkey_events_handled_idx), gone; two trims at
-- once share the work. Pending ones stay.
WITH old AS (
    SELECT event_id FROM shopmonkey_events
    WHERE outcome <> 'pending' AND received_at < %(before)s
    ORDER BY received_at
    LIMIT %(limit)s
    FOR UPDATE SKIP LOCKED
)
DELETE FROM shopmonkey_events e USING old WHERE e.event_id = old.event_id

-- name: customer_by_contact
SELECT {contact_holder} AS customer_id FROM (SELECT %(mobile)s::text AS mobile, %(email)s::text AS email) AS contact

-- name: shopmonkey_order_customer
SELECT customer_id FROM shopmonkey_orders WHERE order_id = %(order_id)s

-- name: save_shopmonkey_order
INSERT INTO shopmonkey_orders (order_id, customer_id, section) VALUES (%(order_id)s, %(customer_id)s, %(section)s)
ON CONFLICT (order_id) DO UPDATE
SET customer_id = EXCLUDED.customer_id, section = EXCLUDED.section, updated_at = now()

-- name: drop_shopmonkey_order
DELETE FROM shopmonkey_orders WHERE order_id = %(order_id)s

-- name: personal_data
-- What the workshop holds about the customer (the subject-access export): the orders on the card.
SELECT COALESCE((SELECT jsonb_agg(jsonb_build_object('service_order_id', service_order_id, 'state', state,
                                                     'store_id', store_id, 'card', card_value)
                                  ORDER BY created, service_order_id)
                 FROM sitoo_service_orders WHERE customer_id = %(customer_id)s), '[]') AS sitoo,
       COALESCE((SELECT jsonb_agg(jsonb_build_object('order_id', order_id, 'card', section) ORDER BY order_id)
                 FROM shopmonkey_orders WHERE customer_id = %(customer_id)s), '[]') AS shopmonkey

-- name: erase
WITH sitoo AS (DELETE FROM sitoo_service_orders WHERE customer_id = %(customer_id)s)
DELETE FROM shopmonkey_orders WHERE customer_id = %(customer_id)s

-- name: merge
WITH sitoo AS (UPDATE sitoo_service_orders SET customer_id = %(into)s WHERE customer_id = %(merged)s)
UPDATE shopmonkey_orders SET customer_id = %(into)s WHERE customer_id = %(merged)s
