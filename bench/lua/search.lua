-- GET /customers?key_type=<type>&key=<key>: the key of a seeded customer, as the POS types it.
-- Argument 4: the key type.
dofile("common.lua")

local keys, prefix, headers

function init(args)
   common_init(args)
   keys = read_keys(args[1])
   prefix = "/customers?key_type=" .. args[4] .. "&key="
   headers = request_headers(false)
end

function request()
   return wrk.format("GET", prefix .. pick(keys), headers)
end

function response(status, _, body)
   expect(status == 200 and contains(body, '"customer_id"'), status, body)
end
