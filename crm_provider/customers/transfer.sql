-- The customers file (customers/transfer.py): an import's staging tables, its checks and its set-based writes,
-- and the export. The staging table `customer_import` holds a batch of rows, each checked as a POST's would
-- be before it was copied in; `customer_import_done` the customers the earlier batches wrote; both live as
-- long as the import's transaction.

-- name: create_staging
CREATE TEMPORARY TABLE customer_import (
    line                   integer PRIMARY KEY,
    customer_id            uuid NOT NULL,
    existing               boolean NOT NULL,
    generated_number       boolean NOT NULL,
    member_number          text,
    email                  text,
    email_norm             text,
    name_first             text,
    name_last              text,
    personal_id            text,
    personal_id_norm       text,
    personal_id_key        text,
    personal_id_sealed     bytea,
    personal_id_index      bytea,
    company                text,
    company_id             text,
    company_id_norm        text,
    phone                  text,
    mobile                 text,
    invoice_address        jsonb,
    delivery_address       jsonb,
    gender                 text,
    birthday               date,
    accepts_communication  text[],
    consents               text[],
    options                jsonb,
    status_color           text,
    status_text            text,
    voucher_passwords      text[],
    store_id_home          text,
    created_at             timestamptz,
    aliases                text[],
    extra                  jsonb,
    -- The row's personal id normalised, whether or not it is sealed: only to find a customer who holds it in
    -- plain (stored before the release that seals them). Never written to customers.
    personal_id_plain      text
) ON COMMIT DROP;
CREATE TEMPORARY TABLE customer_import_done (customer_id uuid PRIMARY KEY) ON COMMIT DROP;
CREATE TEMPORARY TABLE customer_import_rejects (line integer NOT NULL, reason text NOT NULL) ON COMMIT DROP

-- name: analyze_written
-- The tables an import writes, analysed as they grow inside its transaction (the statistics see its own
-- rows), so that the planner joins a batch to them by their indexes rather than hashing them whole.
ANALYZE customers, customer_aliases, customer_consents, customer_option_values, points_accounts

-- name: copy_staging
COPY customer_import (line, customer_id, existing, generated_number, member_number, email, email_norm, name_first,
    name_last, personal_id, personal_id_norm, personal_id_key, personal_id_sealed, personal_id_index, company,
    company_id, company_id_norm, phone, mobile, invoice_address, delivery_address, gender, birthday,
    accepts_communication, consents, options, status_color, status_text, voucher_passwords, store_id_home,
    created_at, aliases, extra, personal_id_plain) FROM STDIN

-- name: copy_rejects
COPY customer_import_rejects (line, reason) FROM STDIN

-- name: targets
-- For a batch of rows: the live customers holding their member numbers, the customers (erased too) with
-- their ids, and the customers the ids that are not UUIDs are aliases of; `touched`: an earlier row of the
-- file wrote it.
SELECT t.*, EXISTS (SELECT 1 FROM customer_import_done d WHERE d.customer_id = t.customer_id) AS touched
FROM (
    SELECT 'member_number' AS by, c.member_number AS key, c.customer_id, c.erased_at IS NOT NULL AS erased
    FROM customers c WHERE c.member_number = ANY(%(member_numbers)s::text[]) AND c.erased_at IS NULL
    UNION ALL
    SELECT 'customer_id', c.customer_id::text, c.customer_id, c.erased_at IS NOT NULL
    FROM customers c WHERE c.customer_id = ANY(%(ids)s::uuid[])
    UNION ALL
    SELECT 'alias', a.alias, c.customer_id, c.erased_at IS NOT NULL
    FROM customer_aliases a JOIN customers c USING (customer_id) WHERE a.alias = ANY(%(aliases)s::text[])
) t

-- name: taken_member_numbers
-- Generated member numbers that a live customer or another row of the batch holds.
SELECT line FROM (
    SELECT s.line, s.generated_number, count(*) OVER (PARTITION BY s.member_number) AS holders,
           EXISTS (SELECT 1 FROM customers c WHERE c.member_number = s.member_number AND c.erased_at IS NULL) AS taken
    FROM customer_import s WHERE s.member_number IS NOT NULL
) numbered
WHERE generated_number AND (taken OR holders > 1)

-- name: set_member_number
UPDATE customer_import SET member_number = %(member_number)s WHERE line = %(line)s

-- name: number_from_sequence
-- The rows without a member number, with CRM_MEMBER_NUMBER_DIGITS=sequence: the sequence's next values.
UPDATE customer_import SET member_number = nextval('member_number_seq')::text, generated_number = true
WHERE member_number IS NULL AND NOT existing

-- name: reject_conflicts
-- What only the file and the database together can refuse, for the batch: a key an earlier row of the batch
-- has (the first row keeps it), or a live customer other than the row's holds (one an earlier batch wrote:
-- an earlier row of the file). The rows found are noted as rejected and leave the batch. Reasons name fields
-- only.
WITH in_batch AS (
    SELECT line, field, label FROM (
        SELECT s.line, k.field, k.label, row_number() OVER (PARTITION BY k.field, k.value ORDER BY s.line) AS n
        FROM customer_import s
        CROSS JOIN LATERAL (VALUES ('customer_id', 'id', s.customer_id::text),
                                   ('member_number', 'member number', s.member_number),
                                   ('email', 'email', s.email_norm), ('mobile', 'mobile', s.mobile),
                                   ('personal_id', 'personal id',
                                    COALESCE(encode(s.personal_id_index, 'hex'), s.personal_id_norm)))
                           AS k (field, label, value)
        WHERE k.value IS NOT NULL
        UNION ALL
        SELECT s.line, 'aliases', 'alias', row_number() OVER (PARTITION BY a.alias ORDER BY s.line)
        FROM customer_import s CROSS JOIN LATERAL unnest(s.aliases) AS a (alias)
    ) keyed
    WHERE n > 1
), held AS (  -- each a probe of the key's index per row (LATERAL ... LIMIT 1): a batch never hashes the table
    SELECT s.line, k.field, k.label, c.customer_id AS holder
    FROM customer_import s
    CROSS JOIN LATERAL (VALUES ('member_number', 'member number'), ('email', 'email'), ('mobile', 'mobile'),
                               ('personal_id', 'personal id'), ('aliases', 'alias')) AS k (field, label)
    CROSS JOIN LATERAL (
        SELECT c.customer_id FROM customers c
        WHERE k.field = 'member_number' AND c.member_number = s.member_number AND c.erased_at IS NULL
          AND c.customer_id <> s.customer_id
        UNION ALL
        SELECT c.customer_id FROM customers c
        WHERE k.field = 'email' AND c.email_norm = s.email_norm AND c.erased_at IS NULL
          AND c.customer_id <> s.customer_id
        UNION ALL
        SELECT c.customer_id FROM customers c
        WHERE k.field = 'mobile' AND c.mobile = s.mobile AND c.erased_at IS NULL AND c.customer_id <> s.customer_id
        UNION ALL
        SELECT c.customer_id FROM customers c
        WHERE k.field = 'personal_id' AND c.personal_id_index = s.personal_id_index AND c.erased_at IS NULL
          AND c.customer_id <> s.customer_id
        UNION ALL
        SELECT c.customer_id FROM customers c
        WHERE k.field = 'personal_id' AND c.personal_id_norm = s.personal_id_plain AND c.erased_at IS NULL
          AND c.customer_id <> s.customer_id
        UNION ALL
        SELECT a.customer_id FROM customer_aliases a
        WHERE k.field = 'aliases' AND a.alias = ANY(s.aliases) AND a.customer_id <> s.customer_id
        LIMIT 1
    ) c
), found AS (
    SELECT DISTINCT ON (line) line, reason FROM (
        SELECT line, field || ': an earlier row of the file has this ' || label AS reason FROM in_batch
        UNION ALL
        SELECT h.line, h.field || CASE WHEN d.customer_id IS NULL THEN ': another customer has this '
                                       ELSE ': an earlier row of the file has this ' END || h.label
        FROM held h LEFT JOIN customer_import_done d ON d.customer_id = h.holder
    ) reasons
    ORDER BY line, reason
), noted AS (
    INSERT INTO customer_import_rejects (line, reason) SELECT line, reason FROM found RETURNING line
)
DELETE FROM customer_import s USING noted WHERE s.line = noted.line

-- name: staged_counts
SELECT count(*) FILTER (WHERE existing) AS updated, count(*) FILTER (WHERE NOT existing) AS created
FROM customer_import

-- name: rejects
SELECT line, reason FROM customer_import_rejects ORDER BY line

-- name: reject_counts
-- The report: the rows rejected by reason, with the first few line numbers of each.
SELECT reason, count(*) AS rows, (array_agg(line ORDER BY line))[1:5] AS lines
FROM customer_import_rejects GROUP BY reason ORDER BY count(*) DESC, reason

-- name: batch_done
-- The batch written: its customers are the earlier rows' for the next batches.
INSERT INTO customer_import_done (customer_id) SELECT customer_id FROM customer_import ON CONFLICT DO NOTHING

-- name: next_batch
TRUNCATE customer_import

-- name: insert_customers
INSERT INTO customers (
    customer_id, member_number, email, email_norm, name_first, name_last, personal_id, personal_id_norm,
    personal_id_key, personal_id_sealed, personal_id_index, company, company_id, company_id_norm, phone, mobile,
    invoice_address, delivery_address, gender, birthday, accepts_communication, status_color, status_text,
    voucher_passwords, store_id_home, created_at)
SELECT customer_id, member_number, email, email_norm, name_first, name_last, personal_id, personal_id_norm,
    personal_id_key, personal_id_sealed, personal_id_index, company, company_id, company_id_norm, phone, mobile,
    invoice_address, delivery_address, gender, birthday, COALESCE(accepts_communication, '{}'), status_color,
    status_text, COALESCE(voucher_passwords, '{}'), store_id_home, COALESCE(created_at, now())
FROM customer_import WHERE NOT existing

-- name: update_customers
-- The customers the file updates: each column the file has (`given`) replaces the stored value (an empty
-- cell clears it), the others stay. A personal id given is sealed for the customer it updates.
UPDATE customers c SET
    member_number = CASE WHEN 'member_number' = ANY(%(given)s) THEN s.member_number ELSE c.member_number END,
    email = CASE WHEN 'email' = ANY(%(given)s) THEN s.email ELSE c.email END,
    email_norm = CASE WHEN 'email' = ANY(%(given)s) THEN s.email_norm ELSE c.email_norm END,
    name_first = CASE WHEN 'name_first' = ANY(%(given)s) THEN s.name_first ELSE c.name_first END,
    name_last = CASE WHEN 'name_last' = ANY(%(given)s) THEN s.name_last ELSE c.name_last END,
    personal_id = CASE WHEN 'personal_id' = ANY(%(given)s) THEN s.personal_id ELSE c.personal_id END,
    personal_id_norm = CASE WHEN 'personal_id' = ANY(%(given)s) THEN s.personal_id_norm ELSE c.personal_id_norm END,
    personal_id_key = CASE WHEN 'personal_id' = ANY(%(given)s) THEN s.personal_id_key ELSE c.personal_id_key END,
    personal_id_sealed = CASE WHEN 'personal_id' = ANY(%(given)s) THEN s.personal_id_sealed
                              ELSE c.personal_id_sealed END,
    personal_id_index = CASE WHEN 'personal_id' = ANY(%(given)s) THEN s.personal_id_index
                             ELSE c.personal_id_index END,
    company = CASE WHEN 'company' = ANY(%(given)s) THEN s.company ELSE c.company END,
    company_id = CASE WHEN 'company_id' = ANY(%(given)s) THEN s.company_id ELSE c.company_id END,
    company_id_norm = CASE WHEN 'company_id' = ANY(%(given)s) THEN s.company_id_norm ELSE c.company_id_norm END,
    phone = CASE WHEN 'phone' = ANY(%(given)s) THEN s.phone ELSE c.phone END,
    mobile = CASE WHEN 'mobile' = ANY(%(given)s) THEN s.mobile ELSE c.mobile END,
    invoice_address = CASE WHEN 'invoice_address' = ANY(%(given)s) THEN s.invoice_address ELSE c.invoice_address END,
    delivery_address = CASE WHEN 'delivery_address' = ANY(%(given)s) THEN s.delivery_address
                            ELSE c.delivery_address END,
    gender = CASE WHEN 'gender' = ANY(%(given)s) THEN s.gender ELSE c.gender END,
    birthday = CASE WHEN 'birthday' = ANY(%(given)s) THEN s.birthday ELSE c.birthday END,
    accepts_communication = CASE WHEN 'accepts_communication' = ANY(%(given)s) THEN s.accepts_communication
                                 ELSE c.accepts_communication END,
    status_color = CASE WHEN 'status' = ANY(%(given)s) THEN s.status_color ELSE c.status_color END,
    status_text = CASE WHEN 'status' = ANY(%(given)s) THEN s.status_text ELSE c.status_text END,
    status_by_tier = CASE WHEN 'status' = ANY(%(given)s) THEN false ELSE c.status_by_tier END,
    voucher_passwords = CASE WHEN 'voucher_passwords' = ANY(%(given)s) THEN s.voucher_passwords
                             ELSE c.voucher_passwords END,
    store_id_home = CASE WHEN 'store_id_home' = ANY(%(given)s) THEN s.store_id_home ELSE c.store_id_home END,
    created_at = COALESCE(s.created_at, c.created_at),
    updated_at = now(), version = c.version + 1
FROM customer_import s
WHERE s.existing AND c.customer_id = s.customer_id

-- name: insert_aliases
INSERT INTO customer_aliases (alias, customer_id, kind)
SELECT a.alias, s.customer_id, 'import' FROM customer_import s CROSS JOIN LATERAL unnest(s.aliases) AS a (alias)
ON CONFLICT (alias) DO NOTHING

-- name: record_events
-- The customer hooks' events of an import (created or updated), with their delivery jobs, as record_event
-- of queries.sql makes one.
WITH event AS (
    INSERT INTO customer_events (customer_id, kind)
    SELECT customer_id, CASE WHEN existing THEN 'updated' ELSE 'created' END FROM customer_import ORDER BY line
    RETURNING event_id, customer_id
)
SELECT count(*) AS events, cardinality(procrastinate_defer_jobs_v1(array_agg(
           ROW(%(queue)s, %(task)s, 0, 'customer:' || customer_id::text, NULL,
               jsonb_build_object('event_id', event_id), NULL)::procrastinate_job_to_defer_v1))) AS jobs
FROM event

-- name: export
-- Every live customer in the file's columns, in id order: its own values (the status only where the back
-- office set it, and its own voucher passwords: a tier's come back from the program), then its consents and
-- option values (catalog.service.EXPORT_PARTS) and the registered columns' cells (customer_columns.py).
SELECT c.customer_id, c.member_number, c.created_at, c.email, c.name_first, c.name_last, c.personal_id,
       c.personal_id_key, c.personal_id_sealed, c.company, c.company_id, c.phone, c.mobile, c.invoice_address,
       c.delivery_address, c.gender, c.birthday, c.accepts_communication,
       CASE WHEN NOT c.status_by_tier THEN c.status_color END AS status_color,
       CASE WHEN NOT c.status_by_tier THEN c.status_text END AS status_text,
       c.voucher_passwords, c.store_id_home,
       ARRAY(SELECT a.alias FROM customer_aliases a WHERE a.customer_id = c.customer_id AND a.kind = 'import'
             ORDER BY a.alias) AS aliases
       {choices}{columns}
FROM customers c
WHERE c.erased_at IS NULL
ORDER BY c.customer_id
