//! The Feishu Drive media API server, as a library: the binary only parses flags.
//!
//! # Layout
//!
//! Dependencies run one way, from the leaves up: leaf modules import nothing of the
//! crate; `state` gathers the shared parts; `services` do the work of the endpoints;
//! `layers` wrap every request; `routes` hold the handlers; `app` stacks layers over
//! routes; `front` and `serve` put the app on connections.
//!
//! - Leaves: [`config`] (typed settings), [`clock`] (the one clock), [`caller`] (who is
//!   calling), [`secret`] (token hashes, constant-time comparison), [`names`] (new ids,
//!   MIME types), [`log_id`], [`error`] ([`ApiError`], the one place the JSON error
//!   envelope is written), [`body`] ([`body::ServedBody`]: a file range says so in its
//!   type), [`limits`] (rate-limit counting), [`faults`] (fault rules), [`metrics`],
//!   [`request_log`], `head_lines` (a response head's lines as the front writes them), `sharded` (a value kept per thread), [`json_path`] (JSON read with errors that name the path), [`gateway`] (the gateway's own 404, query parameters), [`demo`].
//! - [`state`]: [`AppState`], what every layer and handler shares; [`open`] assembles it
//!   from a config (the backends, the secret, the clock).
//! - [`seed`]: the manifest (`--seed`, `--demo`, the admin API): parsed, validated whole,
//!   then applied.
//! - [`services`]: access rules, media answers, uploads, tokens, links, sweeps, reset.
//! - [`layers`]: observe, drain, auth, rate limit, fault, as tower layers in the
//!   contract's order; each reads the request's endpoint match.
//! - [`routes`]: thin handlers, and [`routes::Dispatch`], one arm per endpoint.
//! - [`app`]: [`app()`] stacks the layers over the dispatch and matches each request
//!   against the endpoint table (`feishu_media_proto::endpoint`) once.
//! - [`front`]: each connection's first stop: downloads answered with `sendfile(2)`,
//!   everything else handed to hyper; [`serve()`] accepts connections and shuts down;
//!   [`connection_threads`]: the threads connections are served on, one epoll each.
//!
//! Adding an endpoint: a row in the proto crate's endpoint table, a handler in
//! `routes`, its arm in [`routes::Dispatch`], and its tests.

pub mod app;
pub mod body;
pub mod caller;
pub mod clock;
pub mod config;
pub mod connection_threads;
pub mod demo;
pub mod error;
pub mod faults;
pub mod front;
#[doc(hidden)]
pub mod fuzzing;
pub mod gateway;
mod head_lines;
mod http_date;
pub mod json_path;
pub mod layers;
pub mod limits;
pub mod log_id;
pub mod memory;
pub mod metrics;
pub mod names;
pub mod open;
mod plain;
pub mod request_log;
pub mod routes;
mod row_memo;
pub mod secret;
pub mod seed;
mod send;
mod serve;
pub mod services;
mod sharded;
pub mod state;
#[cfg(test)]
mod testing;

pub use app::{App, app};
pub use config::ServerConfig;
pub use error::ApiError;
pub use serve::{listen, serve};
pub use state::AppState;
