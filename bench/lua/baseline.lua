-- GET / of bench/baseline_app.py: the floor that every figure is divided by.
dofile("common.lua")

local headers

function init(args)
   common_init(args)
   headers = request_headers(false)
end

function request()
   return wrk.format("GET", "/", headers)
end

function response(status, _, body)
   expect(status == 200, status, body)
end
