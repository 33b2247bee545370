-- The check-and-debit script of venice_sdk.ledger.RedisLedger (one atomic run per debit; runs
-- after sweep.lua). KEYS[1] the account's spend for the day, KEYS[2] this debit's token,
-- KEYS[3] the account's live holds for the day, KEYS[4] its hold expiry set.
-- ARGV: cost, limit, spend TTL (s), token TTL (s), now, the account's key base.
-- Returns {allowed, spent, held}. A token that already exists means this exact debit ran before
-- (its reply was lost and the client retried): return what it returned then, debit nothing.
local done = redis.call('GET', KEYS[2])
if done then return {1, tonumber(done), tonumber(redis.call('GET', KEYS[3]) or '0')} end
sweep(KEYS[4], ARGV[6], ARGV[5])
local held = tonumber(redis.call('GET', KEYS[3]) or '0')
local cost = tonumber(ARGV[1])
local spent = tonumber(redis.call('GET', KEYS[1]) or '0')
if spent + held + cost > tonumber(ARGV[2]) then return {0, spent, held} end
if cost > 0 then
  spent = redis.call('INCRBY', KEYS[1], cost)
  if spent == cost then redis.call('EXPIRE', KEYS[1], ARGV[3]) end
  redis.call('SET', KEYS[2], spent, 'EX', ARGV[4])
end
return {1, spent, held}
