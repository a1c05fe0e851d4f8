-- The bench database: emptied, then filled with COPY (seed.py), in one transaction so that COPY can
-- write the rows frozen (no VACUUM needed before the first read), then analysed.

-- name: empty
TRUNCATE customers, consents, option_sections, options, audit_log, person_registry RESTART IDENTITY CASCADE

-- name: more_memory_for_index_builds
SET LOCAL maintenance_work_mem = '512MB'

-- name: skip_foreign_key_checks
-- The generated rows refer only to rows generated before them; checking each reference costs more than
-- writing the row. (Needs a superuser, as the embedded server's is.)
SET LOCAL session_replication_role = replica

-- name: secondary_indexes
-- The indexes of the seeded tables that no constraint owns (primary and foreign keys need theirs): dropped
-- before COPY and built again from these definitions after it.
SELECT i.indexname AS name, i.indexdef AS definition
FROM pg_indexes i
WHERE i.schemaname = current_schema() AND i.tablename = ANY(%(tables)s)
  AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = format('%%I.%%I', i.schemaname, i.indexname)::regclass)

-- name: drop_index
DROP INDEX {name}

-- name: copy_customers
COPY customers (customer_id, member_number, email, email_norm, name_first, name_last, personal_id,
                personal_id_norm, personal_id_key, personal_id_sealed, personal_id_index, company, company_id, company_id_norm, mobile, invoice_address, gender,
                birthday, accepts_communication, status_color, status_text, voucher_passwords, sections,
                store_id_home, created_at, updated_at)
FROM STDIN WITH (FREEZE)

-- name: copy_customer_consents
COPY customer_consents (customer_id, consent_id) FROM STDIN WITH (FREEZE)

-- name: copy_customer_option_values
COPY customer_option_values (customer_id, option_id, enum_values) FROM STDIN WITH (FREEZE)

-- name: copy_promotions
COPY promotions (promotion_id, customer_id, name, promotion_type, value_int, valid_to, created_at)
FROM STDIN WITH (FREEZE)

-- name: copy_bonus_checks
COPY bonus_checks (bonus_check_id, customer_id, name, cart_amount, valid_from, valid_to, created_at)
FROM STDIN WITH (FREEZE)

-- name: copy_transactions
COPY transactions (customer_id, order_id, receipt_id, date_created, store_id, store_name, currency_code,
                   items, payments, total)
FROM STDIN WITH (FREEZE)

-- name: analyze
-- VACUUM too: it finds the frozen pages already all-visible, so it costs little more than ANALYZE, and it
-- resets the insert counters that would otherwise start an autovacuum in the middle of a measurement.
VACUUM (ANALYZE)

-- name: checkpoint
-- The load's dirty pages are written now, not by a checkpoint during the first measurement (the 1,000,000
-- run's first operation, member-number search, measured 30% slower than at 100,000 while the others did not).
CHECKPOINT

-- name: server_version
SELECT current_setting('server_version') AS version
