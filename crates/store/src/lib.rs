//! Storage for feishu-media: small traits, semantic errors, and the backends.
//!
//! # Layout
//!
//! Dependencies run one way: the crate depends on `feishu-media-proto` only (for wire
//! types such as `ParentType`), never on the server. Inside it, `model`, `error`,
//! `meta` and `blob` are the contract; the backends (`memory`, `sql`, `fs`) and the
//! `cache` wrapper implement it and import nothing of one another; `conformance` tests
//! any of them. The store reads no clock: times come in as arguments.
//!
//! - [`model`]: what is stored (apps, users, access tokens, documents, media).
//! - [`meta`]: the [`MetaStore`] trait (metadata) and the [`Batch`] it writes atomically.
//! - [`blob`]: the [`BlobStore`] trait (content-addressed bytes; a read is a [`Payload`]:
//!   bytes in memory, a range of a local file for `sendfile(2)`, or a stream) and the
//!   [`PartStore`] trait (the blocks of chunked uploads, assembled into a blob).
//! - [`memory`]: both traits in memory (`--memory`, tests).
//! - [`sql`] + [`fs`]: the embedded default, SQLite metadata and blob files written
//!   atomically (temp file, fsync, rename); chunked uploads written in place, one file
//!   per upload, hashed as blocks arrive. [`sql`] also holds PostgreSQL, the metadata
//!   replicas share (the same SQL; changes announced to every replica's cache).
//! - [`cache`]: a read-through cache (quick_cache) in front of any metadata store.
//! - [`conformance`]: the one suite every backend must pass; each backend's tests call it.

pub mod blob;
pub mod cache;
pub mod conformance;
pub mod error;
pub mod fs;
pub mod memory;
pub mod meta;
pub mod model;
mod near;
pub mod s3;
pub mod sql;

pub use blob::{
    BlobInfo, BlobStore, ByteStream, FileRange, KeyStream, PartStore, Payload, StagedBlob,
    StagedPart,
};
pub use error::{StoreError, StoreResult};
pub use meta::{Batch, Change, Held, MetaStore, Page, PageRequest};
pub use model::*;
