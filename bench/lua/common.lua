-- Shared by every bench script: wrk loads a script into each of its threads, and the harness runs one
-- connection per thread (-t N -c N), so a thread's request() and response() alternate strictly. That is
-- what lets redeem.lua undo the very redeem it just made.
--
-- Arguments after `--`: the keys file (or "-"), the number of threads, a random seed, then the script's own.
-- wrk counts statuses >= 400 and socket errors by itself; an answer that is not what the operation
-- expects (a search that found nobody, a 200 where 201 was due) is counted here, in `unexpected`, and the
-- first one is kept in `sample` for the report.

local threads = {}
unexpected = 0
sample = ""

function setup(thread)
   thread:set("thread_id", #threads)
   table.insert(threads, thread)
end

function common_init(args)
   nthreads = tonumber(args[2])
   math.randomseed(tonumber(args[3]) * 1000 + thread_id)
end

-- The keys the seeder wrote. With `rounds` (and this run's `round`), only this thread's share of this run's
-- share: no two threads, and no two runs, touch the same customer (a request still in the server when the
-- previous run stopped cannot get in the way). Runs are told apart first, then threads, so that runs with
-- different thread counts never share a key.
function read_keys(path, round, rounds)
   local keys, n = {}, 0
   for line in io.lines(path) do
      if not rounds or (n % rounds == (round or 0) and math.floor(n / rounds) % nthreads == thread_id) then
         keys[#keys + 1] = line
      end
      n = n + 1
   end
   if #keys == 0 then
      error("no keys for thread " .. thread_id .. " in " .. path)
   end
   return keys
end

function pick(keys)
   return keys[math.random(#keys)]
end

-- What Sitoo POS sends with every call.
function request_headers(json)
   local h = {
      ["Authorization"] = os.getenv("BENCH_AUTHORIZATION"),
      ["Store-ID"] = "100",
      ["Staff-ID"] = "bench",
      ["Register-ID"] = "till-" .. thread_id,
   }
   if json then
      h["Content-Type"] = "application/json"
   end
   return h
end

function expect(ok, status, body)
   if not ok then
      unexpected = unexpected + 1
      if sample == "" then
         sample = status .. " " .. string.sub(body or "", 1, 300)
      end
   end
end

function contains(body, text)
   return body ~= nil and string.find(body, text, 1, true) ~= nil
end

function done(summary, latency, requests)
   local total, first = 0, ""
   for _, thread in ipairs(threads) do
      total = total + thread:get("unexpected")
      if first == "" then
         first = thread:get("sample")
      end
   end
   local errors = summary.errors
   io.write(string.format(
      'BENCH-RESULT {"requests": %d, "duration_us": %d, "non_2xx": %d, "socket_errors": %d, ' ..
      '"unexpected": %d, "p50_us": %d, "p99_us": %d}\n',
      summary.requests, summary.duration, errors.status, errors.connect + errors.read + errors.write + errors.timeout,
      total, math.floor(latency:percentile(50)), math.floor(latency:percentile(99))))
   io.write("BENCH-SAMPLE " .. string.gsub(first, "[\r\n]", " ") .. "\n")
end
