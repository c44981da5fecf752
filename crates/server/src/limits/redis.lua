-- One request against both windows, atomically, on Redis's own clock (replica clocks do
-- not matter). The per-second window is gcra.rs's arithmetic, step for step.
-- KEYS[1]: the key's theoretical arrival time (ms); KEYS[2]: its daily count's prefix.
-- ARGV: per_second, per_day, the day's offset east of UTC in ms.
-- Returns {0, 0} allowed, {1, ms to wait} over the second, {2, s to the day's end}.
local per_second = tonumber(ARGV[1])
local per_day = tonumber(ARGV[2])
local offset = tonumber(ARGV[3])
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local emission = 1000 / per_second
local tolerance = emission * (per_second - 1)
local tat = tonumber(redis.call('GET', KEYS[1])) or now
if tat < now then tat = now end
if tat - now > tolerance then
  return {1, math.max(1, math.ceil(tat - tolerance - now))}
end
local day = math.floor((now + offset) / 86400000)
local day_end = (day + 1) * 86400000 - offset
local day_key = KEYS[2] .. day
local count = tonumber(redis.call('GET', day_key)) or 0
if count >= per_day then
  return {2, math.max(1, math.ceil((day_end - now) / 1000))}
end
redis.call('INCR', day_key)
redis.call('PEXPIREAT', day_key, day_end + 3600000)
redis.call('SET', KEYS[1], tostring(tat + emission), 'PX', math.ceil(tolerance + emission) + 1000)
return {0, 0}
