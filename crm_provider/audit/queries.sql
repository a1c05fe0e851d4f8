-- The audit log: written once per audited request (work.py), read by the back office.

-- name: insert_row
INSERT INTO audit_log (operation, customer_id, http_status, request_id, credential, authenticated,
                       store_id, staff_id, register_id, detail)
VALUES (%(operation)s, %(customer_id)s, %(http_status)s, %(request_id)s, %(credential)s, %(authenticated)s,
        %(store_id)s, %(staff_id)s, %(register_id)s, %(detail)s)

-- name: audited_read
-- A GET's read and its audit row in one statement (UnitOfWork.read). The read goes in the braces; its rows
-- have a customer_id. The row's status is 200 when the read found rows, else the one given for none.
WITH result AS MATERIALIZED ({read}),
audited AS (
    INSERT INTO audit_log (operation, customer_id, http_status, request_id, credential, authenticated,
                           store_id, staff_id, register_id, detail)
    SELECT %(audit_operation)s, COALESCE(%(audit_customer_id)s, (SELECT customer_id::text FROM result LIMIT 1)),
           CASE WHEN EXISTS (SELECT FROM result) THEN 200 ELSE %(audit_status_if_none)s END,
           %(audit_request_id)s, %(audit_credential)s, %(audit_authenticated)s, %(audit_store_id)s,
           %(audit_staff_id)s, %(audit_register_id)s, %(audit_detail)s
)
SELECT * FROM result

-- The filters of the read below, each a column an index leads with (migrations 0001 and 0015), so that a
-- filter reads its own rows and never scans the log; `before` is the next page (the rows older than the
-- last one read).

-- name: filter_customer_id
customer_id = %(customer_id)s

-- name: filter_store_id
store_id = %(store_id)s

-- name: filter_staff_id
staff_id = %(staff_id)s

-- name: filter_register_id
register_id = %(register_id)s

-- name: filter_operation
operation = %(operation)s

-- name: filter_before
audit_id < %(before)s

-- name: list_rows
-- Newest first, a page of `limit` rows, under the conditions of the filters given, joined by AND in the place
-- of the braces (store.list_rows).
SELECT audit_id, at, operation, customer_id, http_status, request_id, credential,
       authenticated, store_id, staff_id, register_id, detail
FROM audit_log
WHERE {filters}
ORDER BY audit_id DESC
LIMIT %(limit)s

-- The hash chain over the audit log (chain.py). A row's canonical text is its JSON, with the session in UTC.

-- name: lock_chain
SELECT pg_advisory_xact_lock(727275)

-- name: chain_head
SELECT audit_id, digest FROM audit_chain ORDER BY audit_id DESC LIMIT 1

-- name: rows_to_seal
-- Rows after the head, old enough that no transaction still commits a row with a smaller id.
SELECT a.audit_id, row_to_json(a)::text AS canonical
FROM audit_log a
WHERE a.audit_id > %(after)s AND a.at < now() - make_interval(secs => %(settle_seconds)s)
ORDER BY a.audit_id
LIMIT %(limit)s

-- name: insert_seals
INSERT INTO audit_chain (audit_id, digest)
SELECT * FROM unnest(%(audit_ids)s::bigint[], %(digests)s::bytea[])

-- name: first_anchor
-- The anchor the chain continues from: the last one below its first seal.
SELECT digest FROM audit_anchors
WHERE audit_id < (SELECT min(audit_id) FROM audit_chain) ORDER BY audit_id DESC LIMIT 1

-- name: sealed_rows
-- With each seal, its row's canonical text (none when the row is gone) and whether an anchor says that the
-- row was removed on purpose (partitions.drop_expired).
SELECT c.audit_id, c.digest, row_to_json(a)::text AS canonical, n.audit_id IS NOT NULL AS anchored
FROM audit_chain c LEFT JOIN audit_log a USING (audit_id) LEFT JOIN audit_anchors n ON n.audit_id = c.audit_id
ORDER BY c.audit_id

-- name: unsealed_below_head
-- Rows the chain passed by: they came (or came back) after their place in it was sealed.
SELECT a.audit_id FROM audit_log a
WHERE a.audit_id < (SELECT max(audit_id) FROM audit_chain)
  AND NOT EXISTS (SELECT FROM audit_chain c WHERE c.audit_id = a.audit_id)
ORDER BY a.audit_id LIMIT 100

-- name: personal_data
-- The audit rows about the customer (the export): ids and outcomes, never personal data.
SELECT COALESCE(jsonb_agg(to_jsonb(a) ORDER BY a.audit_id), '[]') AS held
FROM audit_log a WHERE a.customer_id = %(customer_id)s::text

-- The audit log's months (partitions.py; migration 0018 makes the partitions, audit_log_add_month).

-- name: lock_partitions
SELECT pg_advisory_xact_lock(727276)

-- name: partitioned
SELECT relkind = 'p' AS partitioned FROM pg_class WHERE oid = 'audit_log'::regclass

-- name: months_to_add
-- This month and the `ahead` after it, the months from `since` on, and the months of rows that the default
-- partition took for want of theirs.
SELECT month::date AS month
FROM generate_series(date_trunc('month', LEAST(%(since)s, now()) AT TIME ZONE 'UTC'),
                     date_trunc('month', now() AT TIME ZONE 'UTC') + make_interval(months => %(ahead)s),
                     interval '1 month') AS month
UNION
SELECT DISTINCT date_trunc('month', at AT TIME ZONE 'UTC')::date FROM audit_log_default
ORDER BY month

-- name: add_month
SELECT audit_log_add_month(%(parent)s::regclass, %(month)s) AS added

-- name: expired_partitions
-- The months that ended more than `months` months before `now`, oldest first.
SELECT name, upper FROM (
    SELECT c.relname AS name, (to_date(right(c.relname, 7), 'YYYY_MM') + interval '1 month') AT TIME ZONE 'UTC' AS upper
    FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
    WHERE i.inhparent = 'audit_log'::regclass AND c.relname ~ '^audit_log_[0-9]{4}_[0-9]{2}$'
) AS months
WHERE upper <= %(now)s - make_interval(months => %(months)s)
ORDER BY name

-- name: partition_exists
SELECT to_regclass(%(name)s) IS NOT NULL AS there

-- name: cut_chain
-- Before the month in braces is dropped: the chain continues from its last seal below every row kept (the
-- rows of later months: the earlier ones are gone), an anchor holding its digest, and loses the seals up to
-- it. A sealed row of the month above the cut (its transaction began before midnight and took its id after
-- rows of the next month had) gets an anchor of its own: removed on purpose.
WITH kept AS (
    SELECT min(audit_id) AS first FROM audit_log WHERE at >= %(upper)s
), cut AS (
    SELECT c.audit_id, c.digest FROM audit_chain c
    WHERE c.audit_id < COALESCE((SELECT first FROM kept), 9223372036854775807)
    ORDER BY c.audit_id DESC LIMIT 1
), anchored AS (
    INSERT INTO audit_anchors (audit_id, digest, reason)
    SELECT audit_id, digest, %(reason)s FROM cut
    UNION ALL
    SELECT c.audit_id, c.digest, %(reason)s
    FROM {partition} a JOIN audit_chain c USING (audit_id)
    WHERE a.audit_id > COALESCE((SELECT audit_id FROM cut), 0)
    ON CONFLICT (audit_id) DO NOTHING
)
DELETE FROM audit_chain c USING cut WHERE c.audit_id <= cut.audit_id

-- name: drop_partition
DROP TABLE {partition}

-- name: move_first_month
SELECT min(at) AS since FROM audit_log

-- name: move_mark
-- Where a move stands: the rows copied (the highest id, the resume point), the highest id of the old log and
-- the snapshot that saw it.
SELECT pg_current_snapshot()::text AS snapshot, (SELECT max(audit_id) FROM audit_log) AS ceiling,
       COALESCE((SELECT max(audit_id) FROM audit_log_partitioned), 0) AS copied

-- name: move_settled
-- Every transaction that was running at the snapshot has ended: no row with an id below its ceiling can
-- still commit.
SELECT pg_snapshot_xmin(pg_current_snapshot()) >= pg_snapshot_xmax(%(snapshot)s::pg_snapshot) AS settled

-- name: move_rows
INSERT INTO audit_log_partitioned OVERRIDING SYSTEM VALUE
SELECT * FROM audit_log WHERE audit_id > %(after)s AND audit_id <= %(upto)s

-- name: swap
SELECT audit_log_swap()
