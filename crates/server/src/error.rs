//! [`ApiError`]: every error answer of the API, and the one place its envelope is written.

use crate::observe::{FeishuCode, current_log_id};
use axum::http::{HeaderName, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use feishu_media_proto::ErrorCode;
use feishu_media_proto::envelope::{ErrorDetail, ErrorEnvelope, PermissionViolation};

/// An error answer. Internal causes are logged with the log id and never sent.
#[derive(Debug)]
pub struct ApiError {
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
}

impl ApiError {
    pub fn new(code: ErrorCode) -> Self {
        Self {
            code,
            status: None,
            msg: None,
            troubleshooter: None,
            violations: Vec::new(),
            headers: Vec::new(),
            internal: None,
        }
    }

    /// 500/1061001 for a fault of the server; `cause` goes to the log only.
    pub fn internal(cause: impl std::fmt::Display) -> Self {
        Self {
            internal: Some(cause.to_string()),
            ..Self::new(ErrorCode::Internal)
        }
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
        let log_id = current_log_id();
        if let Some(cause) = &self.internal {
            tracing::error!(log_id = %log_id, code = self.code.code(), cause = %cause, "internal error");
        }
        let status = self.status.unwrap_or_else(|| {
            StatusCode::from_u16(self.code.http_status())
                .unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
        });
        let envelope = ErrorEnvelope {
            code: self.code.code(),
            msg: self.msg.unwrap_or_else(|| self.code.message().to_owned()),
            error: Some(ErrorDetail {
                log_id,
                troubleshooter: self.troubleshooter,
                permission_violations: self.violations,
            }),
        };
        let body = serde_json::to_vec(&envelope).expect("envelope serializes");
        let mut resp = (status, body).into_response();
        let h = resp.headers_mut();
        h.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json; charset=utf-8"),
        );
        for (name, value) in self.headers {
            h.insert(name, value);
        }
        resp.extensions_mut().insert(FeishuCode(self.code.code()));
        resp
    }
}

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
