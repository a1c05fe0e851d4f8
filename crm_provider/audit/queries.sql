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

-- name: list_rows
-- Newest first. Each filter applies only when given.
SELECT audit_id, at, operation, customer_id, http_status, request_id, credential,
       authenticated, store_id, staff_id, register_id, detail
FROM audit_log
WHERE (%(customer_id)s::text IS NULL OR customer_id = %(customer_id)s)
  AND (%(store_id)s::text IS NULL OR store_id = %(store_id)s)
  AND (%(staff_id)s::text IS NULL OR staff_id = %(staff_id)s)
  AND (%(register_id)s::text IS NULL OR register_id = %(register_id)s)
ORDER BY audit_id DESC
LIMIT %(limit)s
