//! Wire types of the Feishu (Lark) Drive media API, shared by the server and the client.
//!
//! Nothing here does I/O: each type parses on one side and encodes on the other, so the
//! server and the SDK cannot drift apart.
//!
//! # Layout
//!
//! - [`code`]: Feishu's error codes, each with its HTTP status and message.
//! - [`envelope`]: the JSON success and error envelopes.
//! - [`endpoint`]: the table of every endpoint: name, method, path, access, rate limit.
//! - [`parent`]: document kinds and upload `parent_type`s.
//! - [`token`]: the kinds of access token, told apart by their prefix.
//! - [`scope`]: the scopes each endpoint accepts.
//! - [`range`]: the `Range` header, parsed once into a typed value and resolved
//!   against a length (RFC 9110 §14).
//! - [`decimal`]: numbers as header digits, without `fmt`.
//! - [`disposition`]: `Content-Disposition` written by the server and read by clients.
//! - [`extra`]: the bitable `extra` query parameter.
//! - [`oauth`]: the OAuth token endpoint's answers, error codes and PKCE.
//! - [`upload`]: upload limits, file-name rules, Adler-32 checksums and the upload bodies.
//! - [`tmp_url`]: the temporary download URL bodies.

pub mod code;
pub mod decimal;
pub mod disposition;
pub mod endpoint;
pub mod envelope;
pub mod extra;
pub mod oauth;
pub mod parent;
pub mod range;
pub mod scope;
pub mod tmp_url;
pub mod token;
pub mod upload;

pub use code::ErrorCode;
