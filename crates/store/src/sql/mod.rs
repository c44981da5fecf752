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
