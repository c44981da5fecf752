//! Metadata in SQL: SQLite (the embedded default) and PostgreSQL (shared by replicas),
//! with one text of SQL for both ([`queries`]) and one set of row readers ([`rows`]).
//! Each engine's module adds only what is its own: opening, migrations, and (for
//! PostgreSQL) announcing changes to the other replicas and locking against them.

pub mod postgres;
pub(crate) mod queries;
pub(crate) mod rows;
pub mod sqlite;

pub use postgres::PostgresMeta;
pub use sqlite::SqliteMeta;

/// A migrator over migrations embedded in the binary (version, name, SQL), so it needs no
/// files beside it.
pub(crate) fn migrator(migrations: &[(i64, &str, &'static str)]) -> sqlx::migrate::Migrator {
    use sqlx::SqlSafeStr;
    use sqlx::migrate::{Migration, MigrationType, Migrator};
    Migrator::with_migrations(
        migrations
            .iter()
            .map(|&(version, name, sql)| {
                Migration::new(
                    version,
                    name.to_owned().into(),
                    MigrationType::Simple,
                    sql.into_sql_str(),
                    false,
                )
            })
            .collect(),
    )
}
