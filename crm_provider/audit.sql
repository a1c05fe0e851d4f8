-- name: insert_audit_row
INSERT INTO audit_log (operation, customer_id, http_status, request_id, credential, authenticated,
                       store_id, staff_id, register_id, detail)
VALUES (%(operation)s, %(customer_id)s, %(http_status)s, %(request_id)s, %(credential)s, %(authenticated)s,
        %(store_id)s, %(staff_id)s, %(register_id)s, %(detail)s)

-- name: audited_read
-- A GET's read and its audit row in one statement (audit.read). The read goes in the braces; its rows have a
-- customer_id. The row's status is 200 when the read found rows, else the one given for none.
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
