//! The SDK's one error type.

use feishu_media_proto::endpoint::Endpoint;
use feishu_media_proto::envelope::ErrorEnvelope;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The API answered with an error envelope (or a bare error status).
    #[error(
        "HTTP {status}, code {code}: {msg}{}{}",
        troubleshooter.as_deref().map(|t| format!(" (server: {t})")).unwrap_or_default(),
        log_id.as_deref().map(|l| format!(" (log id {l})")).unwrap_or_default()
    )]
    Api {
        status: u16,
        code: i64,
        msg: String,
        /// The server's own explanation (`error.troubleshooter`), when it gave one.
        troubleshooter: Option<String>,
        log_id: Option<String>,
        /// The call that was refused, for a hint that fits it.
        endpoint: Option<Endpoint>,
    },
    /// The connection failed or broke, after every retry.
    #[error("transport: {0}")]
    Transport(String),
    /// An answer that contradicts what was asked or what came before (a range that is
    /// not the one requested, another total length, another ETag): nothing is written.
    #[error("inconsistent answer: {0}")]
    Inconsistent(String),
    /// The local daily quota is used up; the server would refuse too.
    #[error("the daily quota of {0} requests is used up")]
    DailyQuota(u32),
    /// The output file exists and overwriting was not asked for.
    #[error("{0} exists (use --force to overwrite)")]
    Exists(std::path::PathBuf),
    #[error("i/o: {0}")]
    Io(#[from] std::io::Error),
    #[error("{0}")]
    Invalid(String),
}

impl Error {
    /// Reads an error answer of `endpoint`: the envelope when the body is one, else the
    /// status alone.
    pub(crate) fn from_answer(
        endpoint: Endpoint,
        status: u16,
        log_id: Option<String>,
        body: &[u8],
    ) -> Self {
        match serde_json::from_slice::<ErrorEnvelope>(body) {
            Ok(env) => {
                let detail = env.error;
                Error::Api {
                    status,
                    code: env.code,
                    msg: env.msg,
                    troubleshooter: detail
                        .as_ref()
                        .and_then(|e| e.troubleshooter.clone())
                        .filter(|t| !t.is_empty()),
                    log_id: detail
                        .map(|e| e.log_id)
                        .filter(|l| !l.is_empty())
                        .or(log_id),
                    endpoint: Some(endpoint),
                }
            }
            Err(_) => Error::Api {
                status,
                code: 0,
                msg: String::from_utf8_lossy(body)
                    .trim()
                    .chars()
                    .take(200)
                    .collect(),
                troubleshooter: None,
                log_id,
                endpoint: Some(endpoint),
            },
        }
    }

    /// A failed connection to `e`'s address, in one line that names the address (without
    /// its query, which may hold a link's code) and the cause.
    pub(crate) fn transport(e: &reqwest::Error) -> Self {
        let address = e.url().map_or_else(
            || "the server".to_owned(),
            |u| {
                let mut u = u.clone();
                u.set_query(None);
                u.to_string()
            },
        );
        Error::Transport(format!("{address}: {}", cause(e)))
    }

    /// The Feishu code, if the API answered one.
    pub fn code(&self) -> Option<i64> {
        match self {
            Error::Api { code, .. } if *code != 0 => Some(*code),
            _ => None,
        }
    }

    /// A plain hint for a person, for the codes people meet most, fitting the call.
    pub fn hint(&self) -> Option<&'static str> {
        let Error::Api {
            status,
            code,
            endpoint,
            ..
        } = self
        else {
            return None;
        };
        let upload = matches!(
            endpoint,
            Some(
                Endpoint::UploadAll
                    | Endpoint::UploadPrepare
                    | Endpoint::UploadPart
                    | Endpoint::UploadFinish
            )
        );
        match (status, code) {
            (_, 1061004) if upload => {
                Some("the app or user needs edit permission on the target document")
            }
            (_, 1061004) => {
                Some("the app or user must be added to the document that holds the media")
            }
            (400, 1061002) if upload => Some(
                "an upload into a docx needs --extra '{\"drive_route_token\":\"<document token>\"}'",
            ),
            (400, 1061002) => {
                Some("a bitable with advanced permissions needs --extra '{\"bitablePerm\":{…}}'")
            }
            (_, 1061044) => Some("--parent-node names no document of that --parent-type"),
            (_, 1061003) => Some("no media has this token: check it"),
            (_, 1061007) => Some("the media was deleted"),
            (_, 99991672) | (_, 99991679) => {
                Some("the app or user lacks a scope this call accepts")
            }
            (_, 1770032) | (_, 91403) | (_, 1254302) => {
                Some("the app or user must be added to the document (any role reads it)")
            }
            (_, 1770002) | (_, 91402) | (_, 1254040) => {
                Some("no document of that kind has this token: check it, or give --type")
            }
            (_, 99991663) | (_, 99991668) | (_, 99991661) => {
                Some("the access token is missing or invalid")
            }
            _ => None,
        }
    }
}

/// Why a connection failed, in a word or two a person recognises.
fn cause(e: &reqwest::Error) -> String {
    use std::error::Error as _;
    if e.is_timeout() {
        return "timed out".into();
    }
    let mut source = e.source();
    while let Some(s) = source {
        if let Some(io) = s.downcast_ref::<std::io::Error>() {
            match io.kind() {
                std::io::ErrorKind::ConnectionRefused => return "connection refused".into(),
                std::io::ErrorKind::ConnectionReset => return "connection reset".into(),
                std::io::ErrorKind::TimedOut => return "timed out".into(),
                _ => {}
            }
        }
        #[cfg(feature = "tls")]
        if let Some(tls) = s.downcast_ref::<rustls::Error>() {
            return format!("TLS: {tls}");
        }
        let text = s.to_string();
        if text.contains("certificate") || text.to_ascii_lowercase().contains("tls") {
            return format!("TLS: {text}");
        }
        if text.contains("dns error") || text.contains("failed to lookup address") {
            return format!("cannot resolve the host ({text})");
        }
        source = s.source();
    }
    if e.is_connect() {
        return "cannot connect".into();
    }
    e.to_string()
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
