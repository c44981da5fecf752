//! The JSON envelopes every JSON answer is wrapped in.

use serde::{Deserialize, Serialize};

/// `{"code":..., "msg":..., "error":{...}}`: the one shape of every error answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorEnvelope {
    pub code: i64,
    pub msg: String,
    /// Feishu puts the log id here; clients should tolerate its absence.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<ErrorDetail>,
}

/// The `error` object of an error envelope.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorDetail {
    #[serde(default)]
    pub log_id: String,
    /// A hint for a person reading the answer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub troubleshooter: Option<String>,
    /// What the caller lacks: one entry per missing scope, or the document it may not see.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub permission_violations: Vec<PermissionViolation>,
}

/// One thing the caller lacks.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PermissionViolation {
    #[serde(rename = "type")]
    pub kind: String,
    pub subject: String,
}

impl PermissionViolation {
    /// A scope that would have been accepted.
    pub fn scope(scope: &str) -> Self {
        Self {
            kind: "action_scope_required".into(),
            subject: scope.into(),
        }
    }

    /// A document the caller may not see or change (\[ours\]: Feishu leaves the shape unsaid).
    pub fn document(document_token: &str) -> Self {
        Self {
            kind: "document_permission_required".into(),
            subject: document_token.into(),
        }
    }
}

/// `{"code":0,"msg":"success","data":{...}}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SuccessEnvelope<T> {
    pub code: i64,
    pub msg: String,
    pub data: T,
}

impl<T> SuccessEnvelope<T> {
    pub fn new(data: T) -> Self {
        Self {
            code: 0,
            msg: "success".into(),
            data,
        }
    }
}

/// `POST /open-apis/auth/v3/{tenant,app}_access_token/internal` body.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AppCredentials {
    pub app_id: String,
    pub app_secret: String,
}

/// The flat (no `data`) answer of the tenant token endpoint.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TenantAccessTokenResponse {
    pub code: i64,
    pub msg: String,
    pub tenant_access_token: String,
    pub expire: i64,
}

/// The flat (no `data`) answer of the app token endpoint.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AppAccessTokenResponse {
    pub code: i64,
    pub msg: String,
    pub app_access_token: String,
    pub expire: i64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_envelope_omits_empty_parts() {
        let env = ErrorEnvelope {
            code: 1061003,
            msg: "not found.".into(),
            error: Some(ErrorDetail {
                log_id: "x".into(),
                ..Default::default()
            }),
        };
        assert_eq!(
            serde_json::to_string(&env).unwrap(),
            r#"{"code":1061003,"msg":"not found.","error":{"log_id":"x"}}"#
        );
    }

    #[test]
    fn error_envelope_reads_without_error_object() {
        let env: ErrorEnvelope = serde_json::from_str(r#"{"code":5,"msg":"m"}"#).unwrap();
        assert_eq!(env.error, None);
    }
}
