//! The in-process counter (the default): the per-second window per key in memory, the
//! daily counts in memory too, flushed to the metadata store every second and at
//! shutdown, so a restart keeps them without a database write on every request.

use super::counter::{Hit, Now, RateCounter};
use super::gcra::gcra;
use feishu_media_store::{MetaStore, RateLimit, StoreResult};
use std::collections::HashMap;
use std::sync::Mutex;

#[derive(Debug, Clone, Copy)]
struct DayCount {
    day: i64,
    count: u64,
    dirty: bool,
}

#[derive(Default)]
pub struct Local {
    /// Each key's theoretical arrival time, in Unix ms.
    tats: Mutex<HashMap<String, f64>>,
    days: Mutex<HashMap<String, DayCount>>,
}

impl Local {
    /// Requests counted for `key` on `day`: this process's count, or what the store
    /// kept (a previous run's, or another replica's flush).
    pub async fn day_count(&self, key: &str, day: i64, meta: &dyn MetaStore) -> StoreResult<u64> {
        let here = self
            .days
            .lock()
            .expect("not poisoned")
            .get(key)
            .filter(|d| d.day == day)
            .map(|d| d.count);
        match here {
            Some(n) => Ok(n),
            None => meta.day_count(key, day).await,
        }
    }
}

impl RateCounter for Local {
    async fn hit(
        &self,
        key: &str,
        limit: RateLimit,
        now: Now,
        meta: &dyn MetaStore,
    ) -> StoreResult<Hit> {
        let tat = self.tats.lock().expect("not poisoned").get(key).copied();
        let next_tat = match gcra(tat, now.unix_ms as f64, limit.per_second) {
            Ok(next) => next,
            Err(retry_after_ms) => return Ok(Hit::OverSecond { retry_after_ms }),
        };
        let known = self
            .days
            .lock()
            .expect("not poisoned")
            .get(key)
            .copied()
            .filter(|d| d.day == now.day);
        let current = match known {
            Some(d) => d,
            None => DayCount {
                // First request of the day for this key since start: what a previous
                // run counted.
                day: now.day,
                count: meta.day_count(key, now.day).await?,
                dirty: false,
            },
        };
        let mut days = self.days.lock().expect("not poisoned");
        let entry = days.entry(key.to_owned()).or_insert(current);
        if entry.day != now.day {
            *entry = current;
        }
        if entry.count >= u64::from(limit.per_day) {
            return Ok(Hit::OverDay {
                retry_after_secs: now.secs_to_day_end,
            });
        }
        entry.count += 1;
        entry.dirty = true;
        drop(days);
        self.tats
            .lock()
            .expect("not poisoned")
            .insert(key.to_owned(), next_tat);
        Ok(Hit::Allowed)
    }

    async fn clear(&self) -> StoreResult<()> {
        self.tats.lock().expect("not poisoned").clear();
        self.days.lock().expect("not poisoned").clear();
        Ok(())
    }
}

impl Local {
    /// Writes changed daily counts to the store.
    pub async fn flush(&self, meta: &dyn MetaStore) -> StoreResult<()> {
        let dirty: Vec<(String, i64, u64)> = {
            let mut days = self.days.lock().expect("not poisoned");
            days.iter_mut()
                .filter(|(_, d)| d.dirty)
                .map(|(k, d)| {
                    d.dirty = false;
                    (k.clone(), d.day, d.count)
                })
                .collect()
        };
        if !dirty.is_empty() {
            meta.save_day_counts(&dirty).await?;
        }
        Ok(())
    }
}
