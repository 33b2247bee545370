-- Shared head of venice_sdk.ledger.RedisLedger's scripts (debit.lua and holds.lua run after it).
-- sweep(expiry, base, now): release every hold of one account whose TTL ran out by `now`.
-- `expiry` is the account's sorted set of live holds (request id scored by expiry time), `base`
-- the prefix of its keys ("<prefix>:{<account>}:"): its spend of a day is base..day, its live
-- holds of a day base.."h:"..day, a hold's record (a hash) base.."r:"..request_id.
local function sweep(expiry, base, now)
  local gone = redis.call('ZRANGEBYSCORE', expiry, '-inf', now)
  for _, rid in ipairs(gone) do
    local rec = base .. 'r:' .. rid
    local f = redis.call('HMGET', rec, 'state', 'day', 'amount')
    if f[1] == 'held' then
      local hk = base .. 'h:' .. f[2]
      if redis.call('EXISTS', hk) == 1 then redis.call('DECRBY', hk, f[3]) end
      redis.call('HSET', rec, 'state', 'expired')
    end
    redis.call('ZREM', expiry, rid)
  end
end
