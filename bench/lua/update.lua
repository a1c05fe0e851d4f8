-- PUT /customers/<customer_id>: what a till edits (name, ways of contact, consents); absent fields keep
-- their values, so no search key changes.
dofile("common.lua")

local keys, headers, n = nil, nil, 0

function init(args)
   common_init(args)
   keys = read_keys(args[1])
   headers = request_headers(true)
end

function request()
   n = n + 1
   local body = string.format(
      '{"name_first": "Bench", "name_last": "Edited %d", "accepts_communication": ["email", "sms"], ' ..
      '"consents": ["consent_personal_offers", "consent_newsletter"]}', n)
   return wrk.format("PUT", "/customers/" .. pick(keys), headers, body)
end

function response(status, _, body)
   expect(status == 200 and contains(body, '"customer_id"'), status, body)
end
