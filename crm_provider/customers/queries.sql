-- Customers: the customers table, and the customer as the SPI shows it.
--
-- A customer is read in one statement: `document` builds the contract's Customer JSON over the customer's row
-- `c`. The members that other areas own are their fragments, filled into the braces by customers/document.py:
-- {consents} and {additional_options} from catalog/queries.sql, {promotions} and {bonus_checks} from
-- loyalty/queries.sql, and {sections} (the stored back-office sections, then the sections providers'),
-- merged in SQL. Each read below is `{read}` with its condition: one statement, one round trip.

-- name: document
json_strip_nulls(json_build_object(
    'customer_id', c.customer_id,
    'member_number', c.member_number,
    'email', c.email,
    'name_first', c.name_first,
    'name_last', c.name_last,
    'personal_id', CASE WHEN c.personal_id_sealed IS NULL THEN c.personal_id ELSE '*' END,  -- personal_ids.SEALED
    'company', c.company,
    'company_id', c.company_id,
    'phone', c.phone,
    'mobile', c.mobile,
    'invoice_address', c.invoice_address,
    'delivery_address', c.delivery_address,
    'gender', c.gender,
    'birthday', to_char(c.birthday, 'YYYY-MM-DD'),
    'accepts_communication', to_json(c.accepts_communication),
    'consents', {consents},
    'additional_options', {additional_options},
    'status', CASE WHEN c.status_color IS NOT NULL
                   THEN json_build_object('color', c.status_color, 'text', c.status_text) END,
    'promotions', {promotions},
    'bonus_checks', {bonus_checks},
    'voucher_passwords', to_json(c.voucher_passwords || c.tier_voucher_passwords),
    'store_id_home', c.store_id_home,
    'sections', {sections}))

-- name: read
SELECT c.customer_id, {document}::text AS document, c.personal_id_key, c.personal_id_sealed FROM customers c

-- name: get
{read}
WHERE c.customer_id = %(customer_id)s AND c.erased_at IS NULL

-- name: member_number_holder
-- The customer a member number names: the live customer holding it; else the customer a duplicate holding it
-- was merged into (its alias, looked up only when no customer holds the number: COALESCE evaluates its second
-- argument only then). The searches and the events area resolve member numbers by this rule alone.
COALESCE(
    (SELECT m.customer_id FROM customers m WHERE m.member_number = %(key)s AND m.erased_at IS NULL),
    (SELECT a.customer_id FROM customer_aliases a WHERE a.alias = %(key)s AND a.kind = 'merge'))

-- name: contact_holder
-- The customer a contact names, for the workshop's orders, whose contacts are a mobile in E.164 and an email
-- normalised as the search normalises them (`contact.mobile`, `contact.email`): the live customer with the
-- mobile, else the one with the email. One rule, so that a workshop order finds its customer as the till does.
COALESCE(
    (SELECT h.customer_id FROM customers h WHERE h.mobile = contact.mobile AND h.erased_at IS NULL),
    (SELECT h.customer_id FROM customers h WHERE h.email_norm = contact.email AND h.erased_at IS NULL))

-- name: find_by_member_number
{read}
WHERE c.customer_id = {member_number_holder} AND c.erased_at IS NULL

-- name: find_by_email
{read}
WHERE c.email_norm = %(key)s AND c.erased_at IS NULL

-- name: find_by_mobile
{read}
WHERE c.mobile = %(key)s AND c.erased_at IS NULL

-- name: find_by_personal_id
{read}
WHERE (c.personal_id_index = %(index)s OR c.personal_id_norm = %(key)s) AND c.erased_at IS NULL

-- name: find_by_company_id
-- Company ids are not unique (a company may have several contacts): the one most recently updated.
{read}
WHERE c.company_id_norm = %(key)s AND c.erased_at IS NULL
ORDER BY c.updated_at DESC LIMIT 1

-- name: exists
SELECT 1 AS found FROM customers WHERE customer_id = %(customer_id)s AND erased_at IS NULL

-- name: id_by_member_number
SELECT c.customer_id FROM customers c WHERE c.customer_id = {member_number_holder} AND c.erased_at IS NULL

-- name: id_by_alias
-- The live customer an alias of one of `kinds` names: an old system's id kept by an import, or the member
-- number of a duplicate merged into it.
SELECT a.customer_id FROM customer_aliases a JOIN customers c USING (customer_id)
WHERE a.alias = %(alias)s AND a.kind = ANY(%(kinds)s::text[]) AND c.erased_at IS NULL

-- name: merge_aliases
-- A merge: the duplicate's aliases become the customer's, and its member number (printed on a card) one more;
-- the duplicates merged into it before name the customer now (so a merged id is one step from the live
-- customer: current_id).
WITH moved AS (UPDATE customer_aliases SET customer_id = %(into)s WHERE customer_id = %(merged)s),
     earlier AS (UPDATE customers SET merged_into = %(into)s WHERE merged_into = %(merged)s)
INSERT INTO customer_aliases (alias, customer_id, kind)
SELECT member_number, %(into)s, 'merge' FROM customers WHERE customer_id = %(merged)s
ON CONFLICT (alias) DO UPDATE SET customer_id = excluded.customer_id, kind = excluded.kind

-- name: current_id
-- The customer an id names now: itself while live, else the one it was merged into; none for an erased one.
SELECT live.customer_id FROM customers c
JOIN customers live ON live.customer_id = COALESCE(c.merged_into, c.customer_id)
WHERE c.customer_id = %(customer_id)s AND live.erased_at IS NULL

-- name: search_keys
-- A customer's own search keys as stored (its personal id sealed or in plain), for the areas that hold records
-- under the same keys (the person registry).
SELECT customer_id, personal_id_norm, personal_id_key, personal_id_sealed, mobile, email_norm FROM customers
WHERE customer_id = %(customer_id)s

-- name: aliases_of
-- The ids other systems knew the customer by (kept at an erasure: an erased customer's row in an old file is
-- recognised by them, and refused).
SELECT COALESCE(jsonb_agg(jsonb_build_object('alias', alias, 'kind', kind, 'created_at', created_at)
                          ORDER BY alias), '[]') AS held
FROM customer_aliases WHERE customer_id = %(customer_id)s

-- name: lock
SELECT * FROM customers WHERE customer_id = %(customer_id)s AND erased_at IS NULL FOR UPDATE

-- name: free_member_number
-- The first of the candidates (keys.random_member_numbers) that no live customer holds.
SELECT candidate AS member_number FROM unnest(%(candidates)s::text[]) WITH ORDINALITY AS c (candidate, n)
WHERE NOT EXISTS (SELECT 1 FROM customers WHERE member_number = c.candidate AND erased_at IS NULL)
ORDER BY n LIMIT 1

-- name: next_member_number
-- The sequence's next value that no live customer holds already (member numbers may also be given).
SELECT n::text AS member_number
FROM (SELECT nextval('member_number_seq') AS n FROM generate_series(1, 100)) candidates
WHERE NOT EXISTS (SELECT 1 FROM customers c WHERE c.member_number = candidates.n::text AND c.erased_at IS NULL)
LIMIT 1

-- name: insert
INSERT INTO customers (
    customer_id, member_number, email, email_norm, name_first, name_last, personal_id, personal_id_norm,
    personal_id_key, personal_id_sealed, personal_id_index, company,
    company_id, company_id_norm, phone, mobile, invoice_address, delivery_address, gender, birthday,
    accepts_communication, store_id_home)
VALUES (
    COALESCE(%(customer_id)s::uuid, gen_random_uuid()), %(member_number)s, %(email)s, %(email_norm)s, %(name_first)s, %(name_last)s, %(personal_id)s,
    %(personal_id_norm)s, %(personal_id_key)s, %(personal_id_sealed)s, %(personal_id_index)s, %(company)s, %(company_id)s, %(company_id_norm)s, %(phone)s, %(mobile)s,
    %(invoice_address)s, %(delivery_address)s, %(gender)s, %(birthday)s, %(accepts_communication)s,
    %(store_id_home)s)
RETURNING customer_id

-- name: update
UPDATE customers SET
    member_number = %(member_number)s, email = %(email)s, email_norm = %(email_norm)s,
    name_first = %(name_first)s, name_last = %(name_last)s, personal_id = %(personal_id)s,
    personal_id_norm = %(personal_id_norm)s, personal_id_key = %(personal_id_key)s,
    personal_id_sealed = %(personal_id_sealed)s, personal_id_index = %(personal_id_index)s,
    company = %(company)s, company_id = %(company_id)s,
    company_id_norm = %(company_id_norm)s, phone = %(phone)s, mobile = %(mobile)s,
    invoice_address = %(invoice_address)s, delivery_address = %(delivery_address)s, gender = %(gender)s,
    birthday = %(birthday)s, accepts_communication = %(accepts_communication)s,
    updated_at = now(), version = version + 1
WHERE customer_id = %(customer_id)s

-- name: update_back_office
UPDATE customers SET
    status_color = %(status_color)s, status_text = %(status_text)s, status_by_tier = %(status_by_tier)s,
    voucher_passwords = %(voucher_passwords)s,
    sections = %(sections)s, store_id_home = %(store_id_home)s, updated_at = now(), version = version + 1
WHERE customer_id = %(customer_id)s

-- name: set_tier
-- The tier's status where the tier sets it (no status yet, or handed to the tier by the back office), and the
-- tier's voucher passwords; the row is written only when one of them changes. (Every expression reads the row
-- as it was.)
UPDATE customers
SET status_color = CASE WHEN status_by_tier OR status_color IS NULL THEN %(color)s ELSE status_color END,
    status_text = CASE WHEN status_by_tier OR status_color IS NULL THEN %(text)s ELSE status_text END,
    status_by_tier = status_by_tier OR (status_color IS NULL AND %(color)s::text IS NOT NULL),
    tier_voucher_passwords = %(passwords)s, updated_at = now(), version = version + 1
WHERE customer_id = %(customer_id)s
  AND ((status_by_tier OR status_color IS NULL)
       AND (status_color IS DISTINCT FROM %(color)s OR status_text IS DISTINCT FROM %(text)s)
       OR tier_voucher_passwords <> %(passwords)s::text[])

-- name: record_event
-- A customer event for the customer hooks (hooks.py), and its delivery job, in the transaction of the change.
-- The lock `customer:<id>` makes the worker deliver the events of one customer one at a time, in order.
WITH event AS (
    INSERT INTO customer_events (customer_id, kind, detail) VALUES (%(customer_id)s, %(kind)s, %(detail)s)
    RETURNING event_id
)
SELECT event_id, procrastinate_defer_jobs_v1(ARRAY[
           ROW(%(queue)s, %(task)s, 0, 'customer:' || %(customer_id)s::text, NULL,
               jsonb_build_object('event_id', event_id), NULL)::procrastinate_job_to_defer_v1]) AS job_ids
FROM event

-- name: get_event
SELECT event_id::text, kind, customer_id::text, detail, occurred_at FROM customer_events
WHERE event_id = %(event_id)s

-- name: delivered_hooks
SELECT hook FROM customer_event_deliveries WHERE event_id = %(event_id)s AND status = 'delivered'

-- name: record_delivery
-- A hook's attempt at an event: delivered, or failed (`last_error` the kind of failure, never a message).
INSERT INTO customer_event_deliveries (event_id, hook, status, last_error)
VALUES (%(event_id)s, %(hook)s, %(status)s, %(error)s)
ON CONFLICT (event_id, hook) DO UPDATE SET
    status = excluded.status, last_error = excluded.last_error,
    attempts = customer_event_deliveries.attempts + 1, updated_at = now()

-- name: personal_id_taken
-- Another live customer holds this personal id in plain (stored before the release that seals them, and
-- not sealed yet by `crm-provider keys rotate`): the unique index of the sealed ones cannot see it.
SELECT 1 AS taken FROM customers
WHERE personal_id_norm = %(norm)s AND erased_at IS NULL AND customer_id IS DISTINCT FROM %(customer_id)s

-- name: personal_ids_to_seal
-- `crm-provider keys rotate`: a page of the customers whose personal id is in plain or sealed with another
-- key than the current one, in id order after `after`.
SELECT customer_id, personal_id, personal_id_norm, personal_id_key, personal_id_sealed FROM customers
WHERE customer_id > %(after)s
  AND (personal_id IS NOT NULL OR personal_id_key IS DISTINCT FROM %(current)s AND personal_id_sealed IS NOT NULL)
ORDER BY customer_id LIMIT %(limit)s
FOR UPDATE SKIP LOCKED

-- name: seal_personal_id
-- The personal id sealed with the current key, in place of its plain or older form. Not a change of the
-- customer: its version stays.
UPDATE customers SET personal_id = NULL, personal_id_norm = NULL, personal_id_key = %(personal_id_key)s,
    personal_id_sealed = %(personal_id_sealed)s, personal_id_index = %(personal_id_index)s
WHERE customer_id = %(customer_id)s

-- name: erase
-- The erasure of the customer's own row: every personal field emptied (the member number stays, unique no
-- more: a live customer may take it), the back office's free text too; from now on no read or search finds
-- it (erased_at). A merged duplicate is emptied so too, and names the customer it became (`merged_into`).
UPDATE customers SET merged_into = %(merged_into)s,
    email = NULL, email_norm = NULL, name_first = NULL, name_last = NULL, personal_id = NULL,
    personal_id_norm = NULL, personal_id_key = NULL, personal_id_sealed = NULL, personal_id_index = NULL,
    company = NULL, company_id = NULL, company_id_norm = NULL, phone = NULL, mobile = NULL,
    invoice_address = NULL, delivery_address = NULL, gender = NULL, birthday = NULL,
    accepts_communication = '{}', sections = '[]', status_color = NULL, status_text = NULL,
    erased_at = now(), updated_at = now(), version = version + 1
WHERE customer_id = %(customer_id)s AND erased_at IS NULL
RETURNING erased_at

-- name: erased_at
SELECT erased_at FROM customers WHERE customer_id = %(customer_id)s
