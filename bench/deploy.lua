-- wrk script: `deploy` mutations with a unique idempotency key per request,
-- spread over every (service, environment) of the demo catalogue.
-- Callers cycle through tokens TOKEN_PREFIX-1 .. TOKEN_PREFIX-N (see post.lua).
-- Usage: wrk -s bench/deploy.lua http://127.0.0.1:PORT/graphql -- RUN_ID TOKEN_PREFIX TOKEN_COUNT VERSION
-- Responses whose body carries GraphQL `errors` are counted (gql_errors).

local threads = {}
local next_id = 0

function setup(thread)
   next_id = next_id + 1
   thread:set("thread_id", next_id)
   table.insert(threads, thread)
end

local lanes = {
   { "payments-api", "sandbox" }, { "payments-api", "staging" },
   { "ledger", "sandbox" }, { "ledger", "staging" },
   { "checkout-web", "sandbox" }, { "checkout-web", "staging" },
   { "catalog-api", "sandbox" }, { "catalog-api", "staging" },
}
local run_id, version
local counter = 0
local headers_by_caller = {}
gql_errors = 0

local template = '{"query":"mutation Deploy($i: DeploymentIntentInput!, $k: String!) '
   .. '{ deploy(intent: $i, idempotencyKey: $k) { id state } }",'
   .. '"variables":{"i":{"service":"%s","environment":"%s","version":"%s",'
   .. '"changeSummary":"benchmark deploy"},"k":"%s"}}'

function init(args)
   run_id = args[1]
   version = args[4] or "1.2.0"
   for i = 1, tonumber(args[3] or "1") do
      headers_by_caller[i] = {
         ["Content-Type"] = "application/json",
         ["Accept"] = "application/json",
         ["Authorization"] = "Bearer " .. args[2] .. "-" .. i,
      }
   end
end

function request()
   counter = counter + 1
   local lane = lanes[(counter + thread_id) % #lanes + 1]
   local key = string.format("%s-%d-%d", run_id, thread_id, counter)
   local body = string.format(template, lane[1], lane[2], version, key)
   local headers = headers_by_caller[counter % #headers_by_caller + 1]
   return wrk.format("POST", wrk.path, headers, body)
end

function response(status, headers, body)
   if status == 200 and string.find(body, '"errors"', 1, true) then
      gql_errors = gql_errors + 1
   end
end

function done(summary, latency, requests)
   local errors = 0
   for _, thread in ipairs(threads) do
      errors = errors + (thread:get("gql_errors") or 0)
   end
   local e = summary.errors
   io.write(string.format(
      "BENCH requests=%d duration_us=%d rps=%.1f p50_us=%d p99_us=%d non2xx=%d socket_errors=%d gql_errors=%d\n",
      summary.requests, summary.duration, summary.requests / (summary.duration / 1e6),
      latency:percentile(50), latency:percentile(99), e.status,
      e.connect + e.read + e.write + e.timeout, errors))
end
