-- Customers. Reads go through the customer_wire view (migration 0005): each customer as the contract's
-- Customer JSON document (with its consents, option values, promotions and bonus checks), in one statement.

-- name: get
SELECT customer_id, document FROM customer_wire WHERE customer_id = %(customer_id)s AND erased_at IS NULL

-- name: find_by_member_number
SELECT customer_id, document FROM customer_wire WHERE member_number = %(key)s AND erased_at IS NULL

-- name: find_by_email
SELECT customer_id, document FROM customer_wire WHERE email_norm = %(key)s AND erased_at IS NULL

-- name: find_by_mobile
SELECT customer_id, document FROM customer_wire WHERE mobile = %(key)s AND erased_at IS NULL

-- name: find_by_personal_id
SELECT customer_id, document FROM customer_wire WHERE personal_id_norm = %(key)s AND erased_at IS NULL

-- name: find_by_company_id
-- Company ids are not unique (a company may have several contacts): the one most recently updated.
SELECT customer_id, document FROM customer_wire WHERE company_id_norm = %(key)s AND erased_at IS NULL
ORDER BY updated_at DESC LIMIT 1

-- name: lock
SELECT * FROM customers WHERE customer_id = %(customer_id)s AND erased_at IS NULL FOR UPDATE

-- name: next_member_number
-- The sequence's next value that no live customer holds already (member numbers may also be given).
SELECT n::text AS member_number
FROM (SELECT nextval('member_number_seq') AS n FROM generate_series(1, 100)) candidates
WHERE NOT EXISTS (SELECT 1 FROM customers c WHERE c.member_number = candidates.n::text AND c.erased_at IS NULL)
LIMIT 1

-- name: insert
INSERT INTO customers (
    customer_id, member_number, email, email_norm, name_first, name_last, personal_id, personal_id_norm, company,
    company_id, company_id_norm, phone, mobile, invoice_address, delivery_address, gender, birthday,
    accepts_communication, store_id_home)
VALUES (
    COALESCE(%(customer_id)s::uuid, gen_random_uuid()), %(member_number)s, %(email)s, %(email_norm)s, %(name_first)s, %(name_last)s, %(personal_id)s,
    %(personal_id_norm)s, %(company)s, %(company_id)s, %(company_id_norm)s, %(phone)s, %(mobile)s,
    %(invoice_address)s, %(delivery_address)s, %(gender)s, %(birthday)s, %(accepts_communication)s,
    %(store_id_home)s)
RETURNING customer_id

-- name: update
UPDATE customers SET
    member_number = %(member_number)s, email = %(email)s, email_norm = %(email_norm)s,
    name_first = %(name_first)s, name_last = %(name_last)s, personal_id = %(personal_id)s,
    personal_id_norm = %(personal_id_norm)s, company = %(company)s, company_id = %(company_id)s,
    company_id_norm = %(company_id_norm)s, phone = %(phone)s, mobile = %(mobile)s,
    invoice_address = %(invoice_address)s, delivery_address = %(delivery_address)s, gender = %(gender)s,
    birthday = %(birthday)s, accepts_communication = %(accepts_communication)s,
    updated_at = now(), version = version + 1
WHERE customer_id = %(customer_id)s

-- name: update_back_office
UPDATE customers SET
    status_color = %(status_color)s, status_text = %(status_text)s, voucher_passwords = %(voucher_passwords)s,
    sections = %(sections)s, store_id_home = %(store_id_home)s, updated_at = now(), version = version + 1
WHERE customer_id = %(customer_id)s

-- name: keep_only_consents
-- Consents still accepted keep the time they were first accepted.
DELETE FROM customer_consents WHERE customer_id = %(customer_id)s AND consent_id <> ALL(%(consent_ids)s::text[])

-- name: add_consents
INSERT INTO customer_consents (customer_id, consent_id)
SELECT %(customer_id)s, unnest(%(consent_ids)s::text[])
ON CONFLICT DO NOTHING

-- name: delete_option_values
DELETE FROM customer_option_values WHERE customer_id = %(customer_id)s

-- name: insert_option_values
INSERT INTO customer_option_values (customer_id, option_id, enum_values, text)
SELECT %(customer_id)s, v->>'id',
       ARRAY(SELECT jsonb_array_elements_text(COALESCE(v->'enum_values', '[]'))), v->>'text'
FROM jsonb_array_elements(%(option_values)s) v
