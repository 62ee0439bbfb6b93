-- wrk script for bench/bench_portal.py: each connection signs in with a code and key from the list
-- (POST /signin), then opens the first page with the session it got (GET /me), and again.
local counter = 0
local threads = {}

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
end

function delay()
  if step == 0 and think > 0 then
    return math.floor(-math.log(1 - math.random()) * think)
  end
  return 0
end

function request()
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
  if step == 0 then
    local cookie = headers["Set-Cookie"] or ""
    session = cookie:match("sessionid=([^;]+)") or ""
    if status ~= 302 or session == "" then failures = failures + 1 end
    step = 1
  else
    if status ~= 200 then failures = failures + 1 end
    step = 0
  end
end

function done(summary, latency, requests)
  local total = 0
  for _, thread in ipairs(threads) do total = total + thread:get("failures") end
  io.write(string.format("failed responses: %d\n", total))
end
