-- name: list_audit
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
