//! Metadata in PostgreSQL (`--metadata postgres://…`): the store that many replicas
//! share.
//!
//! Beyond the SQL that SQLite shares ([`super::queries`]):
//! - every writing transaction announces what it changed on the `feishu_media_changes`
//!   channel (`pg_notify`, delivered at commit), and each replica listens, so its
//!   metadata cache drops a changed entry within milliseconds of the commit; when the
//!   listening connection is lost, every cache entry is dropped, on loss and again once
//!   it is back (what was announced in between is not known);
//! - [`MetaStore::exclusive`](crate::MetaStore::exclusive) is a transaction-scoped
//!   advisory lock, so one replica sweeps at a time, and a replica that dies lets go;
//! - the shared secret lives in the `settings` table, created by the first replica.

use crate::error::{StoreError, StoreResult};
use crate::meta::{Change, Held};
use sqlx::Executor;
use sqlx::postgres::{PgConnectOptions, PgListener, PgPool, PgPoolOptions};
use std::str::FromStr;
use std::time::Duration;
use tokio::sync::broadcast;

/// The notification channel every replica listens on.
const CHANNEL: &str = "feishu_media_changes";

/// A notification's payload must stay under 8000 bytes; longer announcements are sent
/// as [`Change::Everything`].
const PAYLOAD_MAX: usize = 7000;

/// How long a request waits for a connection before it fails (an unreachable database
/// answers `500 1061001` within this, rather than hanging).
const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(2);

const MIGRATIONS: &[(i64, &str, &str)] = &[
    (1, "init", include_str!("migrations/postgres/0001_init.sql")),
    (
        2,
        "content_and_grants",
        include_str!("migrations/postgres/0002_content_and_grants.sql"),
    ),
];

pub struct PostgresMeta {
    pool: PgPool,
    changes: broadcast::Sender<Change>,
    listener: tokio::task::JoinHandle<()>,
}

impl Drop for PostgresMeta {
    fn drop(&mut self) {
        self.listener.abort();
    }
}

/// Where a URL points, without its password: what errors and logs may say.
pub fn describe(url: &str) -> String {
    match PgConnectOptions::from_str(url) {
        Ok(o) => format!(
            "postgres://{}@{}:{}/{}",
            o.get_username(),
            o.get_host(),
            o.get_port(),
            o.get_database().unwrap_or("")
        ),
        Err(_) => "a malformed postgres:// URL".into(),
    }
}

impl PostgresMeta {
    /// Connects, brings the schema up to date (sqlx's migrator takes an advisory lock,
    /// so replicas starting together migrate once) and starts listening for the other
    /// replicas' changes.
    pub async fn open(url: &str) -> StoreResult<Self> {
        let options = PgConnectOptions::from_str(url)
            .map_err(|e| StoreError::Config(format!("not a PostgreSQL URL: {}", redact(e))))?;
        let pool = PgPoolOptions::new()
            .max_connections(16)
            .min_connections(1)
            .acquire_timeout(ACQUIRE_TIMEOUT)
            .connect_with(options)
            .await?;
        super::migrator(MIGRATIONS)
            .run(&pool)
            .await
            .map_err(|e| StoreError::Backend(format!("migrating the schema: {e}")))?;
        let (changes, _) = broadcast::channel(4096);
        let mut listener = PgListener::connect_with(&pool).await?;
        listener.listen(CHANNEL).await?;
        let listener = tokio::spawn(listen(listener, changes.clone()));
        Ok(Self {
            pool,
            changes,
            listener,
        })
    }

    /// Tells every replica (this one too) what the transaction on `conn` changed, at its
    /// commit.
    async fn announce(conn: &mut sqlx::PgConnection, changes: &[Change]) -> StoreResult<()> {
        if changes.is_empty() {
            return Ok(());
        }
        let mut payload = changes
            .iter()
            .map(Change::encode)
            .collect::<Vec<_>>()
            .join("\n");
        if payload.len() > PAYLOAD_MAX {
            payload = Change::Everything.encode();
        }
        sqlx::query("SELECT pg_notify($1, $2)")
            .bind(CHANNEL)
            .bind(payload)
            .execute(conn)
            .await?;
        Ok(())
    }

    fn subscribe(&self) -> Option<broadcast::Receiver<Change>> {
        Some(self.changes.subscribe())
    }

    /// A transaction holding `pg_try_advisory_xact_lock`: released when it ends, by
    /// drop or by the death of the process holding it.
    async fn try_hold(&self, name: &str) -> StoreResult<Option<Held>> {
        let mut tx = self.pool.begin().await?;
        let got: bool = sqlx::query_scalar("SELECT pg_try_advisory_xact_lock($1)")
            .bind(lock_key(name))
            .fetch_one(&mut *tx)
            .await?;
        Ok(got.then(|| Box::new(tx) as Held))
    }

    /// The setting `name`, created as `default` by the first replica to ask.
    pub async fn setting_or_insert(&self, name: &str, default: &str) -> StoreResult<String> {
        sqlx::query("INSERT INTO settings (name, value) VALUES ($1, $2) ON CONFLICT DO NOTHING")
            .bind(name)
            .bind(default)
            .execute(&self.pool)
            .await?;
        Ok(
            sqlx::query_scalar("SELECT value FROM settings WHERE name = $1")
                .bind(name)
                .fetch_one(&self.pool)
                .await?,
        )
    }

    /// Drops every table this store made (tests that share one database use it to
    /// start clean).
    pub async fn drop_schema(&self) -> StoreResult<()> {
        self.pool
            .execute(
                "DROP TABLE IF EXISTS apps, users, tokens, documents, media, uploads, \
                 day_counts, settings, _sqlx_migrations",
            )
            .await?;
        Ok(())
    }
}

/// An advisory lock's 64-bit key for a name (FNV-1a: stable across builds and
/// replicas, unlike `std`'s hasher).
fn lock_key(name: &str) -> i64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in name.bytes() {
        h = (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
    }
    h as i64
}

/// A URL parse error without the URL (it may hold a password).
fn redact(e: sqlx::Error) -> String {
    match e {
        sqlx::Error::Configuration(inner) => inner
            .to_string()
            .split(':')
            .next()
            .unwrap_or("invalid")
            .to_owned(),
        _ => "invalid".into(),
    }
}

/// Forwards announcements to this replica's caches until the store is dropped.
async fn listen(mut listener: PgListener, changes: broadcast::Sender<Change>) {
    loop {
        match listener.try_recv().await {
            Ok(Some(n)) => {
                for line in n.payload().lines() {
                    let _ = changes.send(Change::decode(line));
                }
            }
            Ok(None) | Err(_) => {
                tracing::warn!("lost the PostgreSQL change feed; dropping cached metadata");
                let _ = changes.send(Change::Everything);
                // Back on a fresh connection (which listens again), drop everything once
                // more: announcements made while it was away are lost.
                loop {
                    tokio::time::sleep(Duration::from_millis(250)).await;
                    if (&mut listener).execute("SELECT 1").await.is_ok() {
                        break;
                    }
                }
                tracing::info!("PostgreSQL change feed back");
                let _ = changes.send(Change::Everything);
            }
        }
    }
}

super::queries::sql_meta_store!(
    PostgresMeta,
    sqlx::Postgres,
    sqlx::PgConnection,
    sqlx::postgres::PgRow
);
