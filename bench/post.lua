-- wrk script: POSTs one GraphQL request body to /graphql, cycling through
-- TOKEN_COUNT callers (tokens TOKEN_PREFIX-1 .. TOKEN_PREFIX-N) so the
-- per-caller rate limit (at most 100000 requests per minute per caller)
-- does not cap the measurement.
-- Usage: wrk -s bench/post.lua http://127.0.0.1:PORT/graphql -- BODY_FILE TOKEN_PREFIX TOKEN_COUNT
-- done() prints one machine-readable BENCH line that bench/run.sh parses.

local requests_by_caller = {}
local index = 0

function init(args)
   local file = assert(io.open(args[1], "rb"))
   local body = file:read("*a")
   file:close()
   local count = tonumber(args[3] or "1")
   for i = 1, count do
      local headers = {
         ["Content-Type"] = "application/json",
         ["Accept"] = "application/json",
         ["Authorization"] = "Bearer " .. args[2] .. "-" .. i,
      }
      requests_by_caller[i] = wrk.format("POST", wrk.path, headers, body)
   end
end

function request()
   index = index % #requests_by_caller + 1
   return requests_by_caller[index]
end

function done(summary, latency, requests)
   local e = summary.errors
   io.write(string.format(
      "BENCH requests=%d duration_us=%d rps=%.1f p50_us=%d p99_us=%d non2xx=%d socket_errors=%d gql_errors=0\n",
      summary.requests, summary.duration, summary.requests / (summary.duration / 1e6),
      latency:percentile(50), latency:percentile(99), e.status,
      e.connect + e.read + e.write + e.timeout))
end
