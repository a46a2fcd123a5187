-- bench/wrk_uris.lua: wrk over a URI list, one request per line in order, then round again.
-- usage: wrk -t1 -c16 -d10s -s bench/wrk_uris.lua http://127.0.0.1:PORT/ -- URIS_FILE
-- The scheme and host of each line are dropped: wrk sends every request to the URL it was given.
-- done() prints one JSON line: request count, duration, errors and latency percentiles (us).

local requests = {}
local next_request = 0

function init(args)
    local f = assert(io.open(args[1], "r"))
    for line in f:lines() do
        local path = line:match("^https?://[^/]+(/.*)$") or line
        if #path > 0 then
            requests[#requests + 1] = wrk.format("GET", path)
        end
    end
    f:close()
    assert(#requests > 0, "no URIs in " .. args[1])
end

function request()
    next_request = next_request % #requests + 1
    return requests[next_request]
end

function done(summary, latency, _)
    local e = summary.errors
    io.write(string.format(
        '{"requests": %d, "duration_us": %d, "errors_connect": %d, "errors_read": %d, "errors_write": %d, ' ..
        '"errors_status": %d, "errors_timeout": %d, "p50_us": %d, "p99_us": %d, "p999_us": %d, ' ..
        '"mean_us": %.1f, "max_us": %d}\n',
        summary.requests, summary.duration, e.connect, e.read, e.write, e.status, e.timeout,
        latency:percentile(50), latency:percentile(99), latency:percentile(99.9), latency.mean, latency.max))
end
