//! End-to-end tests: a real server on 127.0.0.1:0, real HTTP, an independent client
//! (reqwest, raw TCP, curl) checking bytes and headers.

mod admin;
mod auth;
mod bodies;
mod documents;
mod download;
mod expiry;
mod faults;
mod front;
mod gateway;
mod hostile;
mod limits;
mod oauth;
mod observability;
mod principals;
mod ranges;
mod replicas;
mod seed;
mod storage;
mod support;
mod tmp_urls;
mod tokens;
mod uploads;
