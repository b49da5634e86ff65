--[[
Tollgate admission: rate limits and budget reservations, atomically, in one Redis call.
Loaded by redis-admission.ts and run with EVALSHA; MemoryAdmission (memory-admission.ts)
implements the same rules in TypeScript.

  EVALSHA <sha> <numkeys> KEYS... ARGV...
  ARGV[1] = operation, ARGV[2] = key prefix of the store, ARGV[3] = budget grace in ms

  operation    KEYS                                   ARGV[4...]
  admit        per rate: rate zset, rate meta         request id, reserve micros, hold ttl ms,
                                                      #rates, #budgets,
                                                      per rate: limit, window ms, cost,
                                                      per budget: key, "day"|"month", limit micros,
                                                                  threshold pct ("" = none)
  settle       settled marker,                        request id, actual micros, marker ttl ms,
               per rate: rate zset, rate meta         #budgets, #rates,
                                                      per budget: key, period name,
                                                      per rate: window ms, cost (may be < 0
                                                                with at), at ms ("" = now)
  peek_rate    rate zset, rate meta                   window ms
  peek_budget  -                                      key, "day"|"month"
  calendar     -                                      epoch ms (for the tests: the period math)

Keys (P = prefix):
  P rate:<key>                  ZSET   the sliding-window log: one member per entry,
                                       score = ms it was taken, member = "<seq>:<units>"
  P ratemeta:<key>              HASH   sum = units in the log, seq = member counter,
                                       exp = the expiry set on both rate keys
  P budget:<period>:<key>       HASH   spent, reserved (= sum of the r: fields), limit (last
                                       admitted), crossed ("1"), exp (the expiry set on both
                                       budget keys), r:<request id> = micros that request holds
  P holds:<period>:<key>        ZSET   member = request id, score = ms its hold expires
  P settled:<request id>        STRING present while that request's settle is remembered

Rate keys are declared in KEYS. Budget keys cannot be: their period is read from the server
clock inside this script, so the script builds them from the prefix (fine on one Redis; Redis
Cluster would need every key of a request in one hash slot).

Rules:
  * Time is the server's TIME, in whole ms: every gateway instance shares one clock.
  * An entry taken at `at` is in the window while now - at < window. Both keys of a window expire
    between one and two windows after its newest entry (the expiry moves once per window, not
    on every entry), so idle windows vanish by themselves.
  * A hold dies at its expiry (score <= now); every call that reads a budget first releases dead
    holds. Budget keys live until the period (or their latest hold) ends, plus the grace.
  * Nothing is written unless every rate and every budget fits (trimming dead entries aside).
  * Numbers go to redis.call through int(): Lua 5.1 would print 1.7e12 as "1.7e+12".
  * Few server calls per check (each costs ~1-3 us inside the script): a window's oldest entry
    tells whether anything left it, `reserved` > 0 whether any hold may have died, and the `exp`
    fields whether an expiry must move. Typically 4 calls per rate and 3-4 per budget.
    Needs Redis >= 6.2 (ZADD GT).
]]

local DAY_MS = 86400000

local function int(n)
  return string.format('%d', n)
end

local function server_now()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end

-- ---------------------------------------------------------------------------------------------
-- UTC calendar (Howard Hinnant's days_from_civil / civil_from_days; day 0 = 1970-01-01)
-- ---------------------------------------------------------------------------------------------

local function days_from_civil(y, m, d)
  if m <= 2 then y = y - 1 end
  local era = math.floor(y / 400)
  local yoe = y - era * 400
  local mp = (m + 9) % 12 -- March = 0
  local doy = math.floor((153 * mp + 2) / 5) + d - 1
  local doe = yoe * 365 + math.floor(yoe / 4) - math.floor(yoe / 100) + doy
  return era * 146097 + doe - 719468
end

local function civil_from_days(z)
  z = z + 719468
  local era = math.floor(z / 146097)
  local doe = z - era * 146097
  local yoe = math.floor((doe - math.floor(doe / 1460) + math.floor(doe / 36524) - math.floor(doe / 146096)) / 365)
  local doy = doe - (365 * yoe + math.floor(yoe / 4) - math.floor(yoe / 100))
  local mp = math.floor((5 * doy + 2) / 153)
  local d = doy - math.floor((153 * mp + 2) / 5) + 1
  local m = mp < 10 and mp + 3 or mp - 9
  local y = yoe + era * 400
  if m <= 2 then y = y + 1 end
  return y, m, d
end

local function month_end(y, m)
  if m == 12 then return days_from_civil(y + 1, 1, 1) * DAY_MS end
  return days_from_civil(y, m + 1, 1) * DAY_MS
end

-- The period of `kind` containing `now`: its name and the first ms after it.
local function period_of(kind, now)
  local days = math.floor(now / DAY_MS)
  local y, m, d = civil_from_days(days)
  if kind == 'day' then
    return string.format('day:%04d-%02d-%02d', y, m, d), (days + 1) * DAY_MS
  end
  return string.format('month:%04d-%02d', y, m), month_end(y, m)
end

-- The first ms after a period named by period_of (nil for anything else).
local function period_end(name)
  local y, m, d = string.match(name, '^day:(%d%d%d%d)%-(%d%d)%-(%d%d)$')
  if y then return (days_from_civil(tonumber(y), tonumber(m), tonumber(d)) + 1) * DAY_MS end
  y, m = string.match(name, '^month:(%d%d%d%d)%-(%d%d)$')
  if y then return month_end(tonumber(y), tonumber(m)) end
  return nil
end

-- ---------------------------------------------------------------------------------------------
-- Rate windows
-- ---------------------------------------------------------------------------------------------

local function units_of(member)
  return tonumber(string.match(member, ':(%-?%d+)$'))
end

-- A window with the entries that left it dropped: { used = units in it, seq = member counter,
-- exp = expiry of its keys (0: none), oldest = score of its oldest entry or nil when empty }.
local function rate_load(zkey, mkey, now, window)
  local first = redis.call('ZRANGE', zkey, 0, 0, 'WITHSCORES')
  if #first == 0 then return { used = 0, seq = 0, exp = 0 } end
  local meta = redis.call('HMGET', mkey, 'sum', 'seq', 'exp')
  local w = { used = tonumber(meta[1]), seq = tonumber(meta[2]) or 0, exp = tonumber(meta[3]) or 0, oldest = tonumber(first[2]) }
  local cutoff = now - window
  if w.oldest <= cutoff then
    -- Some entries left the window: take their units off the running sum.
    local gone = redis.call('ZRANGEBYSCORE', zkey, '-inf', int(cutoff))
    redis.call('ZREMRANGEBYSCORE', zkey, '-inf', int(cutoff))
    first = redis.call('ZRANGE', zkey, 0, 0, 'WITHSCORES')
    if #first == 0 then
      redis.call('DEL', mkey)
      return { used = 0, seq = 0, exp = 0 }
    end
    w.oldest = tonumber(first[2])
    if w.used then
      for _, member in ipairs(gone) do w.used = w.used - units_of(member) end
      redis.call('HSET', mkey, 'sum', int(w.used))
    end
  end
  if w.used == nil then
    -- The running sum went missing (never expected): count the log again.
    w.used = 0
    for _, member in ipairs(redis.call('ZRANGE', zkey, 0, -1)) do w.used = w.used + units_of(member) end
    redis.call('HSET', mkey, 'sum', int(w.used))
  end
  return w
end

-- Record `cost` units at `now` in a loaded window (nothing for 0; a negative cost only as a
-- settle correction placed at its admission's time).
local function rate_add(zkey, mkey, w, now, window, cost, correction)
  if cost == 0 or (cost < 0 and not correction) then return end
  w.seq = w.seq + 1
  w.used = w.used + cost
  redis.call('ZADD', zkey, int(now), int(w.seq) .. ':' .. int(cost))
  if w.exp >= now + window then
    redis.call('HSET', mkey, 'sum', int(w.used), 'seq', int(w.seq))
  else
    -- The keys would expire before this entry leaves the window: give them two more windows.
    w.exp = now + 2 * window
    redis.call('HSET', mkey, 'sum', int(w.used), 'seq', int(w.seq), 'exp', int(w.exp))
    redis.call('PEXPIREAT', zkey, int(w.exp))
    redis.call('PEXPIREAT', mkey, int(w.exp))
  end
  if w.oldest == nil or now < w.oldest then w.oldest = now end
end

-- Ms until the oldest entry leaves the window (0 when empty).
local function rate_reset(w, now, window)
  if w.oldest == nil then return 0 end
  return w.oldest + window - now
end

-- Ms until enough of the oldest entries have left to free `need` units.
local function rate_wait(zkey, now, window, need)
  local log = redis.call('ZRANGE', zkey, 0, -1, 'WITHSCORES')
  local freed = 0
  for i = 1, #log, 2 do
    freed = freed + units_of(log[i])
    if freed >= need then return math.max(1, tonumber(log[i + 1]) + window - now) end
  end
  return window
end

-- ---------------------------------------------------------------------------------------------
-- Budgets
-- ---------------------------------------------------------------------------------------------

local function budget_keys(prefix, period, key)
  return prefix .. 'budget:' .. period .. ':' .. key, prefix .. 'holds:' .. period .. ':' .. key
end

-- A budget period with its dead holds released: { spent, reserved, limit, crossed, exp, held }
-- (held = what `request_id` holds, when given).
local function budget_load(bkey, hkey, now, request_id)
  local v = redis.call('HMGET', bkey, 'spent', 'reserved', 'limit', 'crossed', 'exp', 'r:' .. (request_id or ''))
  local b = { spent = tonumber(v[1]) or 0, reserved = tonumber(v[2]) or 0, limit = tonumber(v[3]) or 0,
              crossed = v[4] == '1', exp = tonumber(v[5]) or 0, held = request_id and tonumber(v[6]) }
  if b.reserved <= 0 then return b end -- no holds at all
  local dead = redis.call('ZRANGEBYSCORE', hkey, '-inf', int(now))
  if #dead == 0 then return b end
  -- In chunks: unpack() of thousands of fields would overflow Lua's C stack.
  for i = 1, #dead, 500 do
    local fields = {}
    for k = i, math.min(i + 499, #dead) do
      fields[#fields + 1] = 'r:' .. dead[k]
      if dead[k] == request_id then b.held = nil end
    end
    for _, amount in ipairs(redis.call('HMGET', bkey, unpack(fields))) do
      b.reserved = b.reserved - (tonumber(amount) or 0)
    end
    redis.call('HDEL', bkey, unpack(fields))
  end
  redis.call('ZREMRANGEBYSCORE', hkey, '-inf', int(now))
  redis.call('HSET', bkey, 'reserved', int(b.reserved))
  return b
end

-- Keep both keys of a budget period until at least `at` (never shortens their life); `fields`
-- are what the caller writes to the budget hash, `exp` is added to them when it moves.
local function budget_write(b, bkey, hkey, fields, at)
  local moved = at > b.exp
  if moved then
    b.exp = at
    fields[#fields + 1] = 'exp'
    fields[#fields + 1] = int(at)
  end
  redis.call('HSET', bkey, unpack(fields))
  if moved then
    redis.call('PEXPIREAT', bkey, int(at))
    redis.call('PEXPIREAT', hkey, int(at))
  end
end

-- ---------------------------------------------------------------------------------------------
-- Operations
-- ---------------------------------------------------------------------------------------------

local prefix, grace = ARGV[2], tonumber(ARGV[3])

-- Returns { allowed 1|0, now, denied kind ("" | "rate" | "budget"), denied index (1-based),
--           retry after ms, per rate: used, reset ms, per budget: period, spent, reserved, crossed 1|0,
--           the reservation made (micros, 0 when denied) }
local function admit()
  local request_id, reserve, ttl = ARGV[4], tonumber(ARGV[5]), tonumber(ARGV[6])
  local n_rates, n_budgets = tonumber(ARGV[7]), tonumber(ARGV[8])
  local now = server_now()
  local denied_kind, denied_index, retry = '', 0, 0
  local function deny(kind, index, wait)
    if denied_kind == '' or wait > retry then denied_kind, denied_index, retry = kind, index, wait end
  end

  -- 1. Check every rate: used + cost must fit the limit (a cost above the limit never fits).
  local rates = {}
  for i = 1, n_rates do
    local a = 9 + (i - 1) * 3
    local r = { zkey = KEYS[2 * i - 1], mkey = KEYS[2 * i],
                limit = tonumber(ARGV[a]), window = tonumber(ARGV[a + 1]), cost = tonumber(ARGV[a + 2]) }
    r.w = rate_load(r.zkey, r.mkey, now, r.window)
    if r.cost > r.limit then
      deny('rate', i, r.window)
    elseif r.w.used + r.cost > r.limit then
      deny('rate', i, rate_wait(r.zkey, now, r.window, r.w.used + r.cost - r.limit))
    end
    rates[i] = r
  end

  -- 2. Check every budget of the current period: spent + reserved + reserve must fit the limit.
  local budgets = {}
  local first = 9 + n_rates * 3
  for j = 1, n_budgets do
    local a = first + (j - 1) * 4
    local kind = ARGV[a + 1]
    local period, ends = period_of(kind, now)
    local bkey, hkey = budget_keys(prefix, period, ARGV[a])
    local b = budget_load(bkey, hkey, now, request_id)
    b.period, b.ends, b.bkey, b.hkey = period, ends, bkey, hkey
    b.limit, b.pct, b.hit = tonumber(ARGV[a + 2]), tonumber(ARGV[a + 3]), false
    budgets[j] = b
  end
  -- A flexible reservation (min reserve < reserve): what every budget can still fit, at least the minimum.
  local min_reserve = tonumber(ARGV[first + n_budgets * 4]) or reserve
  if min_reserve < reserve then
    for _, b in ipairs(budgets) do reserve = math.min(reserve, math.max(0, b.limit - b.spent - b.reserved)) end
    reserve = math.max(reserve, min_reserve)
  end
  for j, b in ipairs(budgets) do
    if b.spent + b.reserved + reserve > b.limit then deny('budget', j, b.ends - now) end
  end

  -- 3. Everything fits: record every rate entry and every hold.
  if denied_kind == '' then
    for _, r in ipairs(rates) do rate_add(r.zkey, r.mkey, r.w, now, r.window, r.cost) end
    local expires = now + ttl
    for _, b in ipairs(budgets) do
      local fields = { 'limit', int(b.limit) }
      local had_holds = b.reserved > 0
      if reserve > 0 then
        -- One hold per request id (a repeated admit adds to it and keeps the later expiry).
        redis.call('ZADD', b.hkey, 'GT', int(expires), request_id)
        b.reserved = b.reserved + reserve
        fields[#fields + 1] = 'reserved'
        fields[#fields + 1] = int(b.reserved)
        fields[#fields + 1] = 'r:' .. request_id
        fields[#fields + 1] = int((b.held or 0) + reserve)
      end
      -- The first admission of the period at or over the threshold reports it, once.
      if b.pct and not b.crossed and b.limit > 0 and (b.spent + b.reserved) * 100 >= b.pct * b.limit then
        fields[#fields + 1] = 'crossed'
        fields[#fields + 1] = '1'
        b.hit = true
      end
      local exp = b.exp
      budget_write(b, b.bkey, b.hkey, fields, math.max(b.ends, expires) + grace)
      -- The holds key was created just now when there were no holds (it vanishes whenever it
      -- empties): give it the budget's expiry unless budget_write just did.
      if reserve > 0 and not had_holds and b.exp == exp then redis.call('PEXPIREAT', b.hkey, int(exp)) end
    end
  end

  local out = { denied_kind == '' and 1 or 0, now, denied_kind, denied_index, retry }
  for _, r in ipairs(rates) do
    out[#out + 1] = r.w.used
    out[#out + 1] = rate_reset(r.w, now, r.window)
  end
  for _, b in ipairs(budgets) do
    out[#out + 1] = b.period
    out[#out + 1] = b.spent
    out[#out + 1] = b.reserved
    out[#out + 1] = b.hit and 1 or 0
  end
  out[#out + 1] = denied_kind == '' and reserve or 0
  return out
end

-- Returns { settled 1|0, now }.
local function settle()
  local request_id, actual, retention = ARGV[4], tonumber(ARGV[5]), tonumber(ARGV[6])
  local n_budgets, n_rates = tonumber(ARGV[7]), tonumber(ARGV[8])
  local now = server_now()
  -- The marker is the receipt: a second settle of this id finds it and changes nothing.
  if not redis.call('SET', KEYS[1], '1', 'NX', 'PX', int(retention)) then return { 0, now } end

  for j = 1, n_budgets do
    local period = ARGV[10 + (j - 1) * 2]
    local bkey, hkey = budget_keys(prefix, period, ARGV[9 + (j - 1) * 2])
    local b = budget_load(bkey, hkey, now, request_id)
    if b.held then
      redis.call('HDEL', bkey, 'r:' .. request_id)
      redis.call('ZREM', hkey, request_id)
      b.reserved = b.reserved - b.held
    end
    -- Spend counts even when the hold already expired (a request that outlived its hold).
    local fields = { 'spent', int(b.spent + actual), 'reserved', int(b.reserved) }
    budget_write(b, bkey, hkey, fields, math.max(period_end(period) or now, now) + grace)
  end

  local first = 9 + n_budgets * 2
  for i = 1, n_rates do
    local a = first + (i - 1) * 3
    local zkey, mkey = KEYS[2 * i], KEYS[2 * i + 1]
    local window, cost, at = tonumber(ARGV[a]), tonumber(ARGV[a + 1]), tonumber(ARGV[a + 2])
    local w = rate_load(zkey, mkey, now, window)
    if at == nil then
      rate_add(zkey, mkey, w, now, window, cost)
    elseif w.oldest ~= nil and at > now - window then
      -- A correction at the admission's time (it leaves the window with that entry), only while
      -- that entry is still in the window.
      rate_add(zkey, mkey, w, math.min(at, now), window, cost, true)
    end
  end
  return { 1, now }
end

-- Returns { now, used, reset ms }.
local function peek_rate()
  local window = tonumber(ARGV[4])
  local now = server_now()
  local w = rate_load(KEYS[1], KEYS[2], now, window)
  return { now, w.used, rate_reset(w, now, window) }
end

-- Returns { now, period, spent, reserved, limit }.
local function peek_budget()
  local now = server_now()
  local period = period_of(ARGV[5], now)
  local bkey, hkey = budget_keys(prefix, period, ARGV[4])
  local b = budget_load(bkey, hkey, now)
  return { now, period, b.spent, b.reserved, b.limit }
end

-- Returns { day name, day end, month name, month end, day end parsed, month end parsed }.
local function calendar()
  local ms = tonumber(ARGV[4])
  local day, day_end = period_of('day', ms)
  local month, month_end_ms = period_of('month', ms)
  return { day, day_end, month, month_end_ms, period_end(day) or -1, period_end(month) or -1 }
end

local op = ARGV[1]
if op == 'admit' then return admit() end
if op == 'settle' then return settle() end
if op == 'peek_rate' then return peek_rate() end
if op == 'peek_budget' then return peek_budget() end
if op == 'calendar' then return calendar() end
return redis.error_reply('ERR unknown admission op ' .. tostring(op))
