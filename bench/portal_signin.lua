-- wrk script for bench/bench_portal.py: each connection signs in with a code and key from the list
-- (POST /signin), then opens the first page with the session it got (GET /me), and again.
local counter = 0
local threads = {}

-- Each response's latency in microseconds, taken here as well as by wrk, into a file per connection
-- (OWABI_BENCH_LATENCY_DIR): bench_portal.py leaves out each connection's first journey. wrk opens every
-- connection at once and a thinking one sends nothing for seconds, while gunicorn's gthread worker holds
-- a thread for up to 5 s waiting for a new connection's first bytes; that start-up queue is the bench's,
-- not the portal's (browsers connect to send, and production has a buffering proxy in front).
local ffi = require("ffi")
ffi.cdef[[
typedef struct { long tv_sec; long tv_nsec; } owabi_timespec;
int clock_gettime(int clock, owabi_timespec *now);
]]
local clock = ffi.new("owabi_timespec")
local function microseconds()
  ffi.C.clock_gettime(1, clock)  -- CLOCK_MONOTONIC
  return tonumber(clock.tv_sec) * 1000000 + tonumber(clock.tv_nsec) / 1000
end

function setup(thread)
  thread:set("id", counter)
  counter = counter + 1
  table.insert(threads, thread)
end

function init(args)
  codes = {}
  for line in io.lines(os.getenv("OWABI_BENCH_CODES")) do
    local code, key = line:match("([^,]+),([^,]+)")
    table.insert(codes, {code = code, key = key})
  end
  token = os.getenv("OWABI_BENCH_CSRF")
  step = 0
  index = id + 1
  session = ""
  failures = 0
  -- Think time before each sign-in (bench_portal.py --loads): a mean in milliseconds, drawn from an
  -- exponential distribution so that the connections do not march in step. 0: none (saturation).
  think = tonumber(os.getenv("OWABI_BENCH_THINK_MS") or "0")
  math.randomseed(id + 1)
  journeys = 0
  sent = 0
  local folder = os.getenv("OWABI_BENCH_LATENCY_DIR") or ""
  latencies = nil
  if folder ~= "" then
    latencies = io.open(folder .. "/connection-" .. id .. ".txt", "w")
    latencies:setvbuf("line")
  end
end

function delay()
  if step == 0 and think > 0 then
    return math.floor(-math.log(1 - math.random()) * think)
  end
  return 0
end

function request()
  sent = microseconds()
  if step == 0 then
    local entry = codes[index]
    index = index + counter
    if index > #codes then index = (index % counter) + 1 end
    local body = "csrfmiddlewaretoken=" .. token .. "&code=" .. entry.code .. "&key=" .. entry.key
    return wrk.format("POST", "/signin", {
      ["Content-Type"] = "application/x-www-form-urlencoded",
      ["Cookie"] = "csrftoken=" .. token,
    }, body)
  end
  return wrk.format("GET", "/me", {["Cookie"] = "sessionid=" .. session})
end

function response(status, headers, body)
  if latencies then
    latencies:write(string.format("%d %d\n", journeys, microseconds() - sent))
  end
  if step == 0 then
    local cookie = headers["Set-Cookie"] or ""
    session = cookie:match("sessionid=([^;]+)") or ""
    if status ~= 302 or session == "" then failures = failures + 1 end
    step = 1
  else
    if status ~= 200 then failures = failures + 1 end
    step = 0
    journeys = journeys + 1
  end
end

function done(summary, latency, requests)
  local total = 0
  for _, thread in ipairs(threads) do total = total + thread:get("failures") end
  io.write(string.format("failed responses: %d\n", total))
end
