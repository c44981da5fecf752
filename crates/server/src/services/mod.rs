//! What the endpoints do, apart from HTTP: each function takes the state and the caller
//! and returns a domain result or an [`ApiError`](crate::ApiError).
//!
//! - [`access`]: who may read which media (existence, tenant, document role, `extra`).
//! - [`documents`]: who may read a document, and each kind's content as listed.
//! - [`media`]: the answer to a permitted download (validators, Range, the body).
//! - [`uploads`] and [`form`]: upload targets and permissions, the four upload calls,
//!   and multipart bodies read as a stream.
//! - [`tokens`]: issuing tenant and app access tokens.
//! - [`links`]: signing and checking temporary download links.
//! - [`admin`]: the admin API's reset and manifest application.
//! - [`sweep`]: removing expired upload sessions, orphan blocks, temp files and blobs.

pub mod access;
pub mod admin;
pub mod documents;
pub mod form;
pub mod links;
pub mod media;
pub mod oauth;
pub mod sweep;
pub mod tokens;
pub mod uploads;
