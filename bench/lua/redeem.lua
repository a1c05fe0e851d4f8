-- POST /customers/<id>/redeem of a seeded customer's promotion and bonus check, then DELETE
-- /customers/<id>/redeem/<redeem_id> to undo it: the pair alternates on the thread's one connection.
-- Threads (and runs) draw from disjoint shares of the customers, so no two redeem the same items at once.
-- Arguments 4 and 5: this run's round and the number of rounds (drivers.Run.share).
dofile("common.lua")

local keys, headers, json_headers
local customer, redeem_id, undoing = nil, nil, false

function init(args)
   common_init(args)
   keys = read_keys(args[1], tonumber(args[4]), tonumber(args[5]))
   headers = request_headers(false)
   json_headers = request_headers(true)
end

function request()
   if redeem_id then
      undoing = true
      return wrk.format("DELETE", "/customers/" .. customer .. "/redeem/" .. redeem_id, headers)
   end
   undoing = false
   local promotion, bonus_check
   customer, promotion, bonus_check = string.match(pick(keys), "(%S+) (%S+) (%S+)")
   local body = string.format('{"bonus_checks": ["%s"], "promotions": ["%s"]}', bonus_check, promotion)
   return wrk.format("POST", "/customers/" .. customer .. "/redeem", json_headers, body)
end

function response(status, _, body)
   if undoing then
      redeem_id = nil
      expect(status == 200, status, body)
   else
      redeem_id = status == 200 and string.match(body, '"redeem_id"%s*:%s*"(%x+)"') or nil
      expect(redeem_id ~= nil, status, body)
   end
end
