//! Request bodies read whole: always under a limit, and JSON parsed one way, with errors
//! that name the JSON path at fault (`$.size: invalid type…`).

use crate::error::ApiError;
use axum::extract::{FromRequest, Request};
use bytes::Bytes;
use serde::de::DeserializeOwned;

/// The longest JSON body of the public API (tokens, `upload_prepare`, `upload_finish`):
/// the largest field the SDKs send is `extra`, well under this.
pub const JSON_MAX: usize = 64 * 1024;

/// The whole body, refused past `MAX` bytes before more is read.
pub struct Limited<const MAX: usize>(pub Bytes);

impl<S: Send + Sync, const MAX: usize> FromRequest<S> for Limited<MAX> {
    type Rejection = ApiError;

    async fn from_request(req: Request, _: &S) -> Result<Self, ApiError> {
        axum::body::to_bytes(req.into_body(), MAX)
            .await
            .map(Limited)
            .map_err(|e| {
                // A body over the limit is the gateway's 413; one that broke off, a 400.
                let too_long = std::error::Error::source(&e)
                    .is_some_and(|c| c.is::<http_body_util::LengthLimitError>());
                let mut refusal = ApiError::params(format!(
                    "the body could not be read whole: it must be at most {MAX} bytes ({e})"
                ));
                if too_long {
                    refusal.status = Some(axum::http::StatusCode::PAYLOAD_TOO_LARGE);
                }
                refusal
            })
    }
}

/// A JSON body of at most `MAX` bytes, parsed into `T`.
pub struct Json<T, const MAX: usize = JSON_MAX>(pub T);

impl<S: Send + Sync, T: DeserializeOwned, const MAX: usize> FromRequest<S> for Json<T, MAX> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        let Limited(bytes) = Limited::<MAX>::from_request(req, state).await?;
        parse(&bytes).map(Json).map_err(ApiError::params)
    }
}

/// `bytes` as a `T`; the error names the JSON path (`$` for the whole body).
pub fn parse<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, String> {
    crate::json_path::from_slice(bytes).map_err(|(path, message)| format!("{path}: {message}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_body_over_the_limit_is_a_413() {
        let req = Request::new(axum::body::Body::from(vec![b'x'; 100]));
        let e = Limited::<10>::from_request(req, &()).await.err().unwrap();
        assert_eq!(e.status, Some(axum::http::StatusCode::PAYLOAD_TOO_LARGE));
        let req = Request::new(axum::body::Body::from(vec![b'x'; 10]));
        assert!(Limited::<10>::from_request(req, &()).await.is_ok());
    }
}
