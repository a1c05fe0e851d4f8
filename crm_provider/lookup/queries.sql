-- The person registry: public person records behind the built-in lookup provider `registry`. Keys are
-- stored normalised the customers' way (keys.py); when a key matches several records, the one
-- imported last answers.

-- name: find_by_personal_id
SELECT person FROM person_registry WHERE personal_id_norm = %(key)s ORDER BY person_id DESC LIMIT 1

-- name: find_by_mobile
SELECT person FROM person_registry WHERE mobile = %(key)s ORDER BY person_id DESC LIMIT 1

-- name: find_by_email
SELECT person FROM person_registry WHERE email_norm = %(key)s ORDER BY person_id DESC LIMIT 1

-- name: find_by_company_id
SELECT person FROM person_registry WHERE company_id_norm = %(key)s ORDER BY person_id DESC LIMIT 1

-- name: delete_all
-- DELETE rather than TRUNCATE: lookups keep reading the old registry until the import commits.
DELETE FROM person_registry

-- name: delete_matching
-- The records that share a search key with a person about to be stored.
DELETE FROM person_registry
WHERE personal_id_norm = %(personal_id_norm)s OR mobile = %(mobile)s OR email_norm = %(email_norm)s
   OR company_id_norm = %(company_id_norm)s

-- name: records_of
-- The records filed under a customer's personal keys (its personal id, mobile or email; not a company id,
-- which the company's other contacts share): its part of the subject-access export.
SELECT COALESCE(jsonb_agg(person ORDER BY person_id), '[]') AS held FROM person_registry
WHERE personal_id_norm = %(personal_id)s OR mobile = %(mobile)s OR email_norm = %(email)s

-- name: delete_records_of
-- The same records, forgotten at the customer's erasure.
DELETE FROM person_registry
WHERE personal_id_norm = %(personal_id)s OR mobile = %(mobile)s OR email_norm = %(email)s

-- name: analyze
-- After an import: with the statistics of the registry before it, the planner may walk the whole table
-- backwards along the primary key looking for a key it believes common, instead of using the key's index.
ANALYZE person_registry

-- name: copy_in
COPY person_registry (personal_id_norm, mobile, email_norm, company_id_norm, person) FROM STDIN
