//! [`ApiError`]: every error answer of the API, and the one place its envelope is written.

use axum::http::{HeaderName, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use feishu_media_proto::ErrorCode;
use feishu_media_proto::envelope::{ErrorDetail, ErrorEnvelope, PermissionViolation};

/// An error answer. Internal causes are logged with the log id and never sent.
/// Boxed: it travels in every handler's `Result`, and the happy path should stay small.
#[derive(Debug)]
pub struct ApiError(Box<ErrorParts>);

/// The parts of an [`ApiError`], reachable through `Deref`.
#[derive(Debug)]
pub struct ErrorParts {
    pub code: ErrorCode,
    /// Overrides the code's usual status (416 for an unsatisfiable range).
    pub status: Option<StatusCode>,
    /// Replaces the code's message (the scope errors list the scopes).
    pub msg: Option<String>,
    pub troubleshooter: Option<String>,
    pub violations: Vec<PermissionViolation>,
    pub headers: Vec<(HeaderName, HeaderValue)>,
    /// What really went wrong, for the log only.
    pub internal: Option<String>,
    /// A code number that is no [`ErrorCode`] (fault rules may answer any code).
    pub code_number: Option<i64>,
}

impl std::ops::Deref for ApiError {
    type Target = ErrorParts;
    fn deref(&self) -> &ErrorParts {
        &self.0
    }
}

impl std::ops::DerefMut for ApiError {
    fn deref_mut(&mut self) -> &mut ErrorParts {
        &mut self.0
    }
}

impl ApiError {
    pub fn new(code: ErrorCode) -> Self {
        Self(Box::new(ErrorParts {
            code,
            status: None,
            msg: None,
            troubleshooter: None,
            violations: Vec::new(),
            headers: Vec::new(),
            internal: None,
            code_number: None,
        }))
    }

    /// 500/1061001 for a fault of the server; `cause` goes to the log only.
    pub fn internal(cause: impl std::fmt::Display) -> Self {
        let mut e = Self::new(ErrorCode::Internal);
        e.internal = Some(cause.to_string());
        e
    }

    /// 400/1061002 with a hint saying which parameter is wrong.
    pub fn params(hint: impl Into<String>) -> Self {
        Self::new(ErrorCode::ParamsError).hint(hint)
    }

    pub fn hint(mut self, hint: impl Into<String>) -> Self {
        self.troubleshooter = Some(hint.into());
        self
    }

    pub fn violation(mut self, v: PermissionViolation) -> Self {
        self.violations.push(v);
        self
    }

    pub fn header(mut self, name: HeaderName, value: HeaderValue) -> Self {
        self.headers.push((name, value));
        self
    }

    /// 412: a precondition of the request (`If-Match`, `If-Unmodified-Since`) fails.
    pub fn precondition_failed(hint: impl Into<String>) -> Self {
        let mut e = Self::params(hint);
        e.status = Some(StatusCode::PRECONDITION_FAILED);
        e
    }

    /// 416 with `Content-Range: bytes */size`.
    pub fn range_not_satisfiable(size: u64) -> Self {
        let mut e = Self::params(format!(
            "requested range not satisfiable: the media is {size} bytes"
        ))
        .header(
            header::CONTENT_RANGE,
            HeaderValue::from_str(&format!("bytes */{size}")).expect("ASCII digits"),
        );
        e.status = Some(StatusCode::RANGE_NOT_SATISFIABLE);
        e
    }
}

impl From<feishu_media_store::StoreError> for ApiError {
    fn from(e: feishu_media_store::StoreError) -> Self {
        ApiError::internal(e)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let ApiError(parts) = self;
        let parts = *parts;
        let log_id = crate::log_id::current();
        if let Some(cause) = &parts.internal {
            tracing::error!(log_id = %log_id, code = parts.code.code(), cause = %cause, "internal error");
        }
        let status = parts.status.unwrap_or_else(|| {
            StatusCode::from_u16(parts.code.http_status())
                .unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
        });
        let envelope = ErrorEnvelope {
            code: parts.code_number.unwrap_or(parts.code.code()),
            msg: parts.msg.unwrap_or_else(|| parts.code.message().to_owned()),
            error: Some(ErrorDetail {
                log_id: log_id.to_string(),
                troubleshooter: parts.troubleshooter,
                permission_violations: parts.violations,
            }),
        };
        let body = serde_json::to_vec(&envelope).expect("envelope serializes");
        let mut resp = (status, body).into_response();
        let h = resp.headers_mut();
        h.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json; charset=utf-8"),
        );
        for (name, value) in parts.headers {
            h.insert(name, value);
        }
        resp.extensions_mut()
            .insert(FeishuCode(parts.code_number.unwrap_or(parts.code.code())));
        resp
    }
}

/// The Feishu code of an answer, left in its extensions for the request's log line.
#[derive(Debug, Clone, Copy)]
pub struct FeishuCode(pub i64);

/// A JSON success answer, with the content type the SDKs expect.
pub fn json_response(status: StatusCode, body: &impl serde::Serialize) -> Response {
    match serde_json::to_vec(body) {
        Ok(bytes) => {
            let mut resp = (status, bytes).into_response();
            resp.headers_mut().insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json; charset=utf-8"),
            );
            resp
        }
        Err(e) => ApiError::internal(e).into_response(),
    }
}
