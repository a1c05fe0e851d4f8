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
SELECT c.audit_id, c.digest, row_to_json(a)::text AS canonical
FROM audit_chain c LEFT JOIN audit_log a USING (audit_id)
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
