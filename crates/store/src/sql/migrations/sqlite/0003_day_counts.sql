-- Requests counted against the daily rate limit, per (app, tenant, endpoint) key and day
-- (the day number in the limit's time zone). Flushed from memory every second.
CREATE TABLE day_counts (
    key    TEXT NOT NULL,
    day    INTEGER NOT NULL,
    count  INTEGER NOT NULL,
    PRIMARY KEY (key, day)
);
