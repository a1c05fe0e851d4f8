-- POST /customers: a new customer with keys no one has. Request n of thread t uses number
-- k = base + t + n * threads (argument 4 is `base`, which the harness moves past every run): mobile
-- +4673 and 7 digits of k, email bench.<k>@example.org, a personal id from k. operations.py does the same.
-- The member number is left to the CRM, as a POS does.
dofile("common.lua")

local headers, base, n = nil, 0, 0
local EPOCH_1950 = -631152000  -- personal ids: a birth date per day from 1950-01-01, as seed.py

function init(args)
   common_init(args)
   base = tonumber(args[4])
   headers = request_headers(true)
end

function request()
   local k = base + thread_id + n * nthreads
   n = n + 1
   local born = EPOCH_1950 + (k % 20000) * 86400
   local body = string.format(
      '{"name_first": "New", "name_last": "Customer", "email": "bench.%d@example.org", "mobile": "+4673%07d", ' ..
      '"personal_id": "%s-%04d", "birthday": "%s", "gender": "female", "accepts_communication": ["email"], ' ..
      '"consents": ["consent_personal_offers"], "additional_options": [{"id": "fav-nhl-team", ' ..
      '"enum_values": ["toronto-maple-leafs"]}], "invoice_address": {"address": "Storgatan 1", "zip": "11122", ' ..
      '"city": "Stockholm", "country_id": "SE"}, "store_id_home": "100"}',
      k, k, os.date("!%Y%m%d", born), 5000 + math.floor(k / 20000), os.date("!%Y-%m-%d", born))
   return wrk.format("POST", "/customers", headers, body)
end

function response(status, _, body)
   expect(status == 201 and contains(body, '"customer_id"'), status, body)
end
