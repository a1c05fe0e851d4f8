-- The consent and additional-option catalogues, and each customer's choices among them (customer_consents,
-- customer_option_values).

-- name: customer_consents
-- The customer's consents in catalogue order, a member of the customer document over its row `c`
-- (customers/queries.sql: document).
to_json(ARRAY(
    SELECT cc.consent_id FROM customer_consents cc JOIN consents k USING (consent_id)
    WHERE cc.customer_id = c.customer_id ORDER BY k.position))

-- name: customer_additional_options
-- The customer's option values in catalogue order (an enum option's values, a text option's text), a member
-- of the customer document over its row `c`.
COALESCE((
    SELECT json_agg(json_strip_nulls(json_build_object(
               'id', v.option_id,
               'enum_values', CASE WHEN o.type <> 'text' THEN to_json(v.enum_values) END,
               'text', CASE WHEN o.type = 'text' THEN v.text END))
           ORDER BY o.section, o.position)
    FROM customer_option_values v JOIN options o USING (option_id)
    WHERE v.customer_id = c.customer_id), '[]')

-- name: list_consents
SELECT consent_id, name, description, default_value AS value FROM consents ORDER BY position

-- name: list_sections
-- `required` is sent only when true: false is its default.
SELECT s.name,
       COALESCE((SELECT jsonb_agg(jsonb_strip_nulls(jsonb_build_object(
                        'id', o.option_id, 'name', o.name, 'type', o.type,
                        'required', CASE WHEN o.required THEN true END,
                        'enum_options', CASE WHEN o.type <> 'text' THEN o.enum_options END))
                    ORDER BY o.position)
                 FROM options o WHERE o.section = s.position), '[]') AS options
FROM option_sections s ORDER BY s.position

-- name: choices
-- What a customer may choose, for validating a customer's consents and option values.
SELECT ARRAY(SELECT consent_id FROM consents) AS consent_ids,
       COALESCE((SELECT jsonb_object_agg(o.option_id, jsonb_build_object(
                    'type', o.type, 'required', o.required,
                    'enum_ids', (SELECT COALESCE(jsonb_agg(e->'id'), '[]') FROM jsonb_array_elements(o.enum_options) e)))
                 FROM options o), '{}') AS options

-- name: delete_consents_except
DELETE FROM consents WHERE consent_id <> ALL(%(consent_ids)s::text[])

-- name: upsert_consent
INSERT INTO consents (consent_id, name, description, default_value, position)
VALUES (%(consent_id)s, %(name)s, %(description)s, %(value)s, %(position)s)
ON CONFLICT (consent_id) DO UPDATE SET
    name = excluded.name, description = excluded.description, default_value = excluded.default_value,
    position = excluded.position

-- name: upsert_section
INSERT INTO option_sections (position, name) VALUES (%(position)s, %(name)s)
ON CONFLICT (position) DO UPDATE SET name = excluded.name

-- name: upsert_option
INSERT INTO options (option_id, section, position, name, type, required, enum_options)
VALUES (%(id)s, %(section)s, %(position)s, %(name)s, %(type)s, %(required)s, %(enum_options)s)
ON CONFLICT (option_id) DO UPDATE SET
    section = excluded.section, position = excluded.position, name = excluded.name, type = excluded.type,
    required = excluded.required, enum_options = excluded.enum_options

-- name: delete_options_except
DELETE FROM options WHERE option_id <> ALL(%(option_ids)s::text[])

-- name: delete_sections_from
DELETE FROM option_sections WHERE position >= %(count)s

-- name: prune_option_values
-- Customer values the new catalogue no longer offers are dropped: enum ids that left their option, text
-- of an option that is no longer a text option (then delete_empty_option_values).
UPDATE customer_option_values v SET
    enum_values = CASE WHEN o.type = 'text' THEN '{}' ELSE ARRAY(
        SELECT x FROM unnest(v.enum_values) x
        WHERE x IN (SELECT e->>'id' FROM jsonb_array_elements(o.enum_options) e)) END,
    text = CASE WHEN o.type = 'text' THEN v.text END
FROM options o WHERE o.option_id = v.option_id

-- name: delete_empty_option_values
DELETE FROM customer_option_values WHERE enum_values = '{}' AND text IS NULL

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

-- name: personal_data
-- The customer's additional option values (the consents are on the customer document), for the export.
SELECT COALESCE(jsonb_agg(jsonb_build_object('id', option_id, 'enum_values', enum_values, 'text', text)
                          ORDER BY option_id), '[]') AS held
FROM customer_option_values WHERE customer_id = %(customer_id)s

-- name: erase_free_text
-- An erasure forgets what the customer or staff wrote: the values of text options.
DELETE FROM customer_option_values v USING options o
WHERE v.customer_id = %(customer_id)s AND o.option_id = v.option_id AND o.type = 'text'

-- name: record_consent_changes
-- Before the customer's consents become `consent_ids`: a history row for each one granted or withdrawn by
-- it, with who and where (the request's trace) and the consent's text as it is now.
INSERT INTO consent_history (customer_id, consent_id, granted, store_id, staff_id, register_id, credential, name,
                             description)
SELECT %(customer_id)s, change.consent_id, change.granted, %(store_id)s, %(staff_id)s, %(register_id)s,
       %(credential)s, k.name, k.description
FROM (
    (SELECT unnest(%(consent_ids)s::text[]) AS consent_id, true AS granted
     EXCEPT SELECT consent_id, true FROM customer_consents WHERE customer_id = %(customer_id)s)
    UNION ALL
    (SELECT consent_id, false FROM customer_consents WHERE customer_id = %(customer_id)s
     EXCEPT SELECT unnest(%(consent_ids)s::text[]), false)
) change
LEFT JOIN consents k USING (consent_id)
ORDER BY change.granted, change.consent_id  -- withdrawals first, each kind in id order

-- name: consent_history
SELECT COALESCE(jsonb_agg(to_jsonb(h) - 'customer_id' ORDER BY h.change_id), '[]') AS held
FROM consent_history h WHERE h.customer_id = %(customer_id)s

-- The customers file (customers/transfer.py, transfer.sql): an import's choices, set-based from its staging
-- table `customer_import` (customer_id, existing, consents, options), and the export's.

-- name: import_consent_history
-- Each grant and withdrawal the import makes, as record_consent_changes records a request's: a new
-- customer's consents are grants, an updated one's the difference to what it had.
INSERT INTO consent_history (customer_id, consent_id, granted, credential, name, description)
SELECT change.customer_id, change.consent_id, change.granted, 'import', k.name, k.description
FROM (
    SELECT s.customer_id, unnest(s.consents) AS consent_id, true AS granted FROM customer_import s
    WHERE NOT s.existing
    UNION ALL
    (SELECT s.customer_id, unnest(s.consents), true FROM customer_import s WHERE s.existing
     EXCEPT SELECT cc.customer_id, cc.consent_id, true
            FROM customer_consents cc JOIN customer_import s ON s.existing AND s.customer_id = cc.customer_id)
    UNION ALL
    (SELECT cc.customer_id, cc.consent_id, false
     FROM customer_consents cc JOIN customer_import s ON s.existing AND s.customer_id = cc.customer_id
     EXCEPT SELECT s.customer_id, unnest(s.consents), false FROM customer_import s WHERE s.existing)
) change
LEFT JOIN consents k USING (consent_id)

-- name: import_consent_grants
-- The same for a batch of new customers only: every consent a grant.
INSERT INTO consent_history (customer_id, consent_id, granted, credential, name, description)
SELECT s.customer_id, g.consent_id, true, 'import', k.name, k.description
FROM customer_import s CROSS JOIN LATERAL unnest(s.consents) AS g (consent_id)
LEFT JOIN consents k USING (consent_id)

-- name: import_keep_consents
DELETE FROM customer_consents cc USING customer_import s
WHERE s.existing AND cc.customer_id = s.customer_id AND cc.consent_id <> ALL(COALESCE(s.consents, '{}'))

-- name: import_add_consents
INSERT INTO customer_consents (customer_id, consent_id)
SELECT s.customer_id, unnest(s.consents) FROM customer_import s
ON CONFLICT DO NOTHING

-- name: import_delete_option_values
DELETE FROM customer_option_values v USING customer_import s
WHERE s.existing AND v.customer_id = s.customer_id AND v.option_id = ANY(%(option_ids)s::text[])

-- name: import_insert_option_values
INSERT INTO customer_option_values (customer_id, option_id, enum_values, text)
SELECT s.customer_id, v.id, COALESCE(v.enum_values, '{}'), v.text
FROM customer_import s CROSS JOIN LATERAL jsonb_to_recordset(s.options) AS v (id text, enum_values text[], text text)

-- name: export_choices
ARRAY(SELECT cc.consent_id FROM customer_consents cc WHERE cc.customer_id = c.customer_id
      ORDER BY cc.consent_id) AS consents,
(SELECT jsonb_object_agg(v.option_id, jsonb_build_object('enum_values', v.enum_values, 'text', v.text))
 FROM customer_option_values v WHERE v.customer_id = c.customer_id) AS option_values

-- A merge (customers.service.merge): the duplicate's choices join the customer's, whose own win.

-- name: merge_consent_history
-- The consents the customer gains from the duplicate, each a grant by the merge (the duplicate's own history
-- stays under its id: the proof of what it was given).
INSERT INTO consent_history (customer_id, consent_id, granted, credential, name, description)
SELECT %(into)s, cc.consent_id, true, 'merge', k.name, k.description
FROM customer_consents cc LEFT JOIN consents k USING (consent_id)
WHERE cc.customer_id = %(merged)s
  AND NOT EXISTS (SELECT 1 FROM customer_consents o WHERE o.customer_id = %(into)s AND o.consent_id = cc.consent_id)
ORDER BY cc.consent_id

-- name: merge_consents
WITH moved AS (DELETE FROM customer_consents WHERE customer_id = %(merged)s RETURNING consent_id, accepted_at)
INSERT INTO customer_consents (customer_id, consent_id, accepted_at)
SELECT %(into)s, consent_id, accepted_at FROM moved
ON CONFLICT DO NOTHING

-- name: merge_option_values
-- The duplicate's value of an option the customer has none of.
WITH moved AS (DELETE FROM customer_option_values WHERE customer_id = %(merged)s
               RETURNING option_id, enum_values, text)
INSERT INTO customer_option_values (customer_id, option_id, enum_values, text)
SELECT %(into)s, option_id, enum_values, text FROM moved
ON CONFLICT DO NOTHING
