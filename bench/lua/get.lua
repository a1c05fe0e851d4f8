-- GET /customers/<customer_id> of a seeded customer.
dofile("common.lua")

local keys, headers

function init(args)
   common_init(args)
   keys = read_keys(args[1])
   headers = request_headers(false)
end

function request()
   return wrk.format("GET", "/customers/" .. pick(keys), headers)
end

function response(status, _, body)
   expect(status == 200 and contains(body, '"customer_id"'), status, body)
end
