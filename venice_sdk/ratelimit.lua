-- The rate limit script of venice_sdk.ratelimit.RedisRateLimiter (one atomic run per call).
-- KEYS[1] the key's request count in this minute, KEYS[2] its token count in this minute.
-- ARGV[1] 'hit' (count one request if both limits allow it) or 'tokens' (add ARGV[2] tokens);
-- 'hit': ARGV[2] requests per minute, ARGV[3] tokens per minute, ARGV[4] TTL of the counts (s).
-- Returns {allowed, requests, tokens} (the counts after the call).
local requests = tonumber(redis.call('GET', KEYS[1]) or '0')
local tokens = tonumber(redis.call('GET', KEYS[2]) or '0')
if ARGV[1] == 'tokens' then
  tokens = redis.call('INCRBY', KEYS[2], ARGV[2])
  redis.call('EXPIRE', KEYS[2], ARGV[3])
  return {1, requests, tokens}
end
if requests >= tonumber(ARGV[2]) or tokens >= tonumber(ARGV[3]) then
  return {0, requests, tokens}
end
requests = redis.call('INCR', KEYS[1])
if requests == 1 then redis.call('EXPIRE', KEYS[1], ARGV[4]) end
return {1, requests, tokens}
