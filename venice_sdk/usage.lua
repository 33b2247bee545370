-- The usage record script of venice_sdk.usage.RedisUsageStore: store one settled request's
-- record once (idempotent by request id) and add it to its indexes and daily aggregates.
-- KEYS[1] the request id's marker, KEYS[2] the record sequence; ARGV[1] the record (JSON),
-- ARGV[2] TTL (s), ARGV[3] key prefix, ARGV[4] wallet, ARGV[5] key id ('' if none), ARGV[6] day,
-- ARGV[7] model, ARGV[8] input tokens, ARGV[9] output tokens, ARGV[10] images, ARGV[11] cost.
-- With a third key, a hold's record (venice_sdk.ledger's hold script), and ARGV[12] a cost: the
-- record is kept only if that hold is settled at that cost (the gateway sends it after the
-- settle, in one batch); else it returns -1 and changes nothing.
-- Returns the record's sequence number, or 0 if it was recorded before.
if KEYS[3] then
  local hold = redis.call('HMGET', KEYS[3], 'state', 'cost')
  if hold[1] ~= 'settled' or hold[2] ~= ARGV[12] then return -1 end
end
if not redis.call('SET', KEYS[1], '1', 'NX', 'EX', ARGV[2]) then return 0 end
local seq = redis.call('INCR', KEYS[2])
local p, ttl, day = ARGV[3], ARGV[2], ARGV[6]
redis.call('SET', p .. 'r:' .. seq, ARGV[1], 'EX', ttl)
local owners = {'w:' .. ARGV[4]}
if ARGV[5] ~= '' then owners[2] = 'k:' .. ARGV[5] end
for _, owner in ipairs(owners) do
  for _, idx in ipairs({p .. owner, p .. owner .. ':' .. day}) do
    redis.call('ZADD', idx, seq, seq)
    redis.call('EXPIRE', idx, ttl)
  end
  local agg = p .. 'a:' .. owner .. ':' .. day
  local group = ARGV[5] .. '\t' .. ARGV[7] .. '\t'
  redis.call('HINCRBY', agg, group .. 'requests', 1)
  redis.call('HINCRBY', agg, group .. 'input_tokens', ARGV[8])
  redis.call('HINCRBY', agg, group .. 'output_tokens', ARGV[9])
  redis.call('HINCRBY', agg, group .. 'images', ARGV[10])
  redis.call('HINCRBY', agg, group .. 'cost', ARGV[11])
  redis.call('EXPIRE', agg, ttl)
end
return seq
