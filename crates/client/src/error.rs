//! The SDK's one error type.

use feishu_media_proto::envelope::ErrorEnvelope;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The API answered with an error envelope (or a bare error status).
    #[error("HTTP {status}, code {code}: {msg}{}", log_id.as_deref().map(|l| format!(" (log id {l})")).unwrap_or_default())]
    Api {
        status: u16,
        code: i64,
        msg: String,
        log_id: Option<String>,
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
    /// Reads an error answer: the envelope when the body is one, else the status alone.
    pub(crate) fn from_answer(status: u16, log_id: Option<String>, body: &[u8]) -> Self {
        match serde_json::from_slice::<ErrorEnvelope>(body) {
            Ok(env) => Error::Api {
                status,
                code: env.code,
                msg: env.msg,
                log_id: env
                    .error
                    .map(|e| e.log_id)
                    .filter(|l| !l.is_empty())
                    .or(log_id),
            },
            Err(_) => Error::Api {
                status,
                code: 0,
                msg: String::from_utf8_lossy(body)
                    .trim()
                    .chars()
                    .take(200)
                    .collect(),
                log_id,
            },
        }
    }

    /// The Feishu code, if the API answered one.
    pub fn code(&self) -> Option<i64> {
        match self {
            Error::Api { code, .. } if *code != 0 => Some(*code),
            _ => None,
        }
    }

    /// A plain hint for a person, for the codes people meet most.
    pub fn hint(&self) -> Option<&'static str> {
        let Error::Api { status, code, .. } = self else {
            return None;
        };
        match (status, code) {
            (_, 1061004) => {
                Some("the app or user must be added to the document that holds the media")
            }
            (400, 1061002) => {
                Some("a bitable with advanced permissions needs --extra '{\"bitablePerm\":{…}}'")
            }
            (_, 1061003) => Some("no media has this token: check it"),
            (_, 1061007) => Some("the media was deleted"),
            (_, 99991672) | (_, 99991679) => {
                Some("the app or user lacks a scope this call accepts")
            }
            (_, 99991663) | (_, 99991668) | (_, 99991661) => {
                Some("the access token is missing or invalid")
            }
            _ => None,
        }
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
