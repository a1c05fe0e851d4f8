-- name: insert_audit_row
INSERT INTO audit_log (operation, customer_id, http_status, request_id, credential, authenticated,
                       store_id, staff_id, register_id, detail)
VALUES (%(operation)s, %(customer_id)s, %(http_status)s, %(request_id)s, %(credential)s, %(authenticated)s,
        %(store_id)s, %(staff_id)s, %(register_id)s, %(detail)s)
