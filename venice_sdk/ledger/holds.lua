-- The hold script of venice_sdk.ledger.RedisLedger: reserve, settle or release one hold,
-- atomically (runs after sweep.lua, which releases the account's expired holds first).
-- KEYS[1] the hold's record (a hash), KEYS[2] the account's hold expiry set.
-- ARGV[1] 'reserve' | 'settle' | 'release' | 'renew' | 'sweep' (only the sweep), ARGV[2] now,
-- ARGV[3] the account's key base, ARGV[4] TTL of the day's (or month's) keys and records (s):
-- a hold's record lives that long after the hold's expiry (a hold may outlive its day's keys),
-- ARGV[5] the request id; then
--   reserve: ARGV[6] day, ARGV[7] amount, ARGV[8] limit, ARGV[9] expiry time
--   settle:  ARGV[6] the actual cost
--   renew:   ARGV[6] the new expiry time (a live hold only)
-- Amounts go to INCRBY/DECRBY as the strings they came in (a Lua number would lose digits).
-- Replies: {'ok', state, day, amount, limit, expires, spent, held, cost, requested},
-- {'refused', spent, held}, or {why} with why 'unknown', 'reused', 'released', 'expired'
-- or 'settled' (the call does not apply; nothing changed).
local op, now, base, keep, rid = ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5]
sweep(KEYS[2], base, now)
if op == 'sweep' then return {'ok'} end

local function reply()
  local f = redis.call('HMGET', KEYS[1], 'state', 'day', 'amount', 'limit', 'expires', 'cost',
                       'requested', 'spent')
  local held = tonumber(redis.call('GET', base .. 'h:' .. f[2]) or '0')
  local spent = f[8]
  if f[1] ~= 'settled' then spent = redis.call('GET', base .. f[2]) or '0' end
  return {'ok', f[1], tonumber(f[2]), tonumber(f[3]), tonumber(f[4]), f[5], tonumber(spent),
          held, tonumber(f[6]), tonumber(f[7])}
end

-- Keep `key` (which exists) for at least `life` seconds, never shortening it: the account's
-- expiry set serves every hold of the account. A TTL of -1 is a set just made by ZADD.
local function outlive(key, life)
  if redis.call('TTL', key) < life then redis.call('EXPIRE', key, life) end
end

-- How long a hold's record must live: `keep` seconds past its expiry `expires`.
local function life_of(keep, expires)
  return tonumber(keep) + math.max(0, math.ceil(tonumber(expires) - tonumber(now)))
end

local function unhold(day, amount)
  local hk = base .. 'h:' .. day
  if redis.call('EXISTS', hk) == 1 then redis.call('DECRBY', hk, amount) end
  redis.call('ZREM', KEYS[2], rid)
end

local f = redis.call('HMGET', KEYS[1], 'state', 'day', 'amount')
if op == 'reserve' then
  if f[1] then
    if f[3] ~= ARGV[7] then return {'reused'} end
    return reply()
  end
  local day = ARGV[6]
  local hk = base .. 'h:' .. day
  local spent = tonumber(redis.call('GET', base .. day) or '0')
  local held = tonumber(redis.call('GET', hk) or '0')
  if spent + held + tonumber(ARGV[7]) > tonumber(ARGV[8]) then
    return {'refused', spent, held}
  end
  redis.call('INCRBY', hk, ARGV[7])
  redis.call('EXPIRE', hk, keep)
  redis.call('HSET', KEYS[1], 'state', 'held', 'day', day, 'amount', ARGV[7], 'limit', ARGV[8],
             'expires', ARGV[9], 'cost', '0', 'requested', '0', 'spent', '0', 'keep', keep)
  local life = life_of(keep, ARGV[9])
  redis.call('EXPIRE', KEYS[1], life)
  redis.call('ZADD', KEYS[2], ARGV[9], rid)
  outlive(KEYS[2], life)
  return reply()
end

if not f[1] then return {'unknown'} end
if op == 'settle' then
  if f[1] == 'settled' then return reply() end
  if f[1] ~= 'held' then return {f[1]} end
  local charge = ARGV[6]
  if tonumber(charge) > tonumber(f[3]) then charge = f[3] end
  local sk = base .. f[2]
  if tonumber(charge) > 0 then
    local spent = redis.call('INCRBY', sk, charge)
    -- the TTL the hold was taken with (a month's spend lives longer than a day's)
    local k = redis.call('HGET', KEYS[1], 'keep') or keep
    if spent == tonumber(charge) then redis.call('EXPIRE', sk, k) end
  end
  unhold(f[2], f[3])
  redis.call('HSET', KEYS[1], 'state', 'settled', 'cost', charge, 'requested', ARGV[6],
             'spent', redis.call('GET', sk) or '0')
  return reply()
end

if op == 'renew' then
  if f[1] ~= 'held' then return {f[1]} end
  redis.call('HSET', KEYS[1], 'expires', ARGV[6])
  redis.call('ZADD', KEYS[2], ARGV[6], rid)
  local life = life_of(redis.call('HGET', KEYS[1], 'keep') or keep, ARGV[6])
  outlive(KEYS[1], life)
  outlive(KEYS[2], life)
  return reply()
end

-- release
if f[1] == 'settled' then return {'settled'} end
if f[1] == 'held' then
  unhold(f[2], f[3])
  redis.call('HSET', KEYS[1], 'state', 'released')
end
return reply()
