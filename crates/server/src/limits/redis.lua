-- One request (or a lease of several) against both windows, atomically, on Redis's own
-- clock (replica clocks do not matter). The per-second window is gcra.rs's arithmetic,
-- step for step; a lease of k is k requests arriving at once.
-- KEYS[1]: the key's theoretical arrival time (ms); KEYS[2]: its daily count's prefix.
-- ARGV: per_second, per_day, the day's offset east of UTC in ms, k (requests wanted).
-- Returns {0, granted} (1 <= granted <= k), {1, ms to wait} over the second,
-- {2, s to the day's end} over the day.
local per_second = tonumber(ARGV[1])
local per_day = tonumber(ARGV[2])
local offset = tonumber(ARGV[3])
local want = tonumber(ARGV[4]) or 1
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
-- As many as the window and the day allow now, at most want (at least one: checked).
local room = math.floor((tolerance - (tat - now)) / emission) + 1
local granted = math.max(1, math.min(want, room, per_day - count))
redis.call('INCRBY', day_key, granted)
redis.call('PEXPIREAT', day_key, day_end + 3600000)
redis.call('SET', KEYS[1], tostring(tat + granted * emission), 'PX', math.ceil(tolerance + emission) + 1000)
return {0, granted}
