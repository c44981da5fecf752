-- wrk script: each request asks for the next path of a list (bench/catalogue.py shuffled
-- it once, so ours and nginx see the same files in the same order). The -H headers given
-- to wrk go with every request.  wrk ... -s bench/random-paths.lua URL -- PATHS_FILE
local paths = {}
local i = 0

function init(args)
  for line in io.lines(args[1]) do
    paths[#paths + 1] = line
  end
end

function request()
  i = i % #paths + 1
  return wrk.format(nil, paths[i])
end

-- (A non-2xx answer shows as "Non-2xx or 3xx responses" in wrk's report; run.sh refuses
-- a figure that has any. A response() function here would slow wrk down for every one.)
