//! Fault injection for testers: rules that make matching requests fail, stall or break
//! off mid-body, deterministically.
//!
//! A rule matches an endpoint (or `*`), and optionally a file token and an app id. It
//! fires on the next `times` matches, or on every `every`-th match, or with
//! `probability` under a fixed `seed`, or (none of these) on every match. The first rule
//! that matches and fires decides; its action may delay, answer a status and code, cut
//! the body after some bytes, or serve it as a slow link would (a wait before the first
//! body byte, a bandwidth), in any combination that makes sense.

use feishu_media_proto::ErrorCode;
use feishu_media_proto::endpoint::Endpoint;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde::{Deserialize, Serialize};
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FaultRule {
    /// An endpoint name (those of the endpoint table's rows with `faults`) or `*`.
    pub endpoint: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file_token: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub app_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub times: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub every: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub probability: Option<f64>,
    /// Seed of the `probability` draw (default 0): the same seed fires on the same requests.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seed: Option<u64>,
    pub action: FaultAction,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FaultAction {
    /// Answer this HTTP status (with `code`) instead of serving the request.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<u16>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code: Option<i64>,
    /// The envelope's `msg` (default: Feishu's message for the code, if known).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub msg: Option<String>,
    /// Wait this long first.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delay_ms: Option<u64>,
    /// Serve the request, but close the connection after this many body bytes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cut_after_bytes: Option<u64>,
    /// Serve the body at most this fast (a slow link; per response, so per connection).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bandwidth_bytes_per_s: Option<u64>,
    /// Wait this long after the head before the first body byte (a distant server).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub first_byte_ms: Option<u64>,
}

/// A rule set refused: the JSON path at fault and why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{path}: {message}")]
pub struct FaultRulesError {
    pub path: String,
    pub message: String,
}

/// Parses and checks a rule list; nothing is applied when any rule is wrong.
pub fn parse_rules(bytes: &[u8]) -> Result<Vec<FaultRule>, FaultRulesError> {
    let rules: Vec<FaultRule> = crate::json_path::from_slice(bytes)
        .map_err(|(path, message)| FaultRulesError { path, message })?;
    for (i, r) in rules.iter().enumerate() {
        let err = |field: &str, message: &str| FaultRulesError {
            path: format!("[{i}]{field}"),
            message: message.into(),
        };
        if r.endpoint != "*" && !Endpoint::fault_names().any(|n| n == r.endpoint) {
            let names: Vec<_> = Endpoint::fault_names().collect();
            return Err(err(
                ".endpoint",
                &format!("not one of *, {}", names.join(", ")),
            ));
        }
        let triggers = [
            r.times.is_some(),
            r.every.is_some(),
            r.probability.is_some(),
        ];
        if triggers.iter().filter(|t| **t).count() > 1 {
            return Err(err("", "give at most one of times, every, probability"));
        }
        if r.every == Some(0) {
            return Err(err(".every", "must be at least 1"));
        }
        if r.probability.is_some_and(|p| !(0.0..=1.0).contains(&p)) {
            return Err(err(".probability", "must be between 0 and 1"));
        }
        let a = &r.action;
        let shapes = a.bandwidth_bytes_per_s.is_some() || a.first_byte_ms.is_some();
        if a.status.is_none() && a.delay_ms.is_none() && a.cut_after_bytes.is_none() && !shapes {
            return Err(err(
                ".action",
                "give status (with code), delay_ms, cut_after_bytes, bandwidth_bytes_per_s \
                 or first_byte_ms",
            ));
        }
        if a.status.is_some() && shapes {
            return Err(err(
                ".action",
                "an answered status has no body to slow down",
            ));
        }
        if a.bandwidth_bytes_per_s == Some(0) {
            return Err(err(".action.bandwidth_bytes_per_s", "must be at least 1"));
        }
        if a.first_byte_ms.is_some_and(|d| d > 600_000) {
            return Err(err(".action.first_byte_ms", "at most 600000 (10 minutes)"));
        }
        if a.status.is_some() != a.code.is_some() {
            return Err(err(".action", "status and code go together"));
        }
        if a.status.is_some_and(|s| !(200..=599).contains(&s)) {
            return Err(err(
                ".action.status",
                "must be an HTTP status from 200 to 599",
            ));
        }
        if a.status.is_some() && a.cut_after_bytes.is_some() {
            return Err(err(".action", "an answered status has no body to cut"));
        }
        if a.delay_ms.is_some_and(|d| d > 600_000) {
            return Err(err(".action.delay_ms", "at most 600000 (10 minutes)"));
        }
    }
    Ok(rules)
}

struct Armed {
    rule: FaultRule,
    matched: u64,
    fired: u64,
    rng: StdRng,
}

/// The rules in force, with their counters.
#[derive(Default)]
pub struct Faults {
    rules: Mutex<Vec<Armed>>,
    /// Whether there is any rule: most servers have none, and then no request takes the
    /// lock (two cores shared it on every request).
    any: AtomicBool,
}

/// A rule's state, as the admin API shows it.
#[derive(Debug, Clone, Serialize)]
pub struct RuleStatus {
    #[serde(flatten)]
    pub rule: FaultRule,
    pub matched: u64,
    pub fired: u64,
}

impl Faults {
    /// Replaces every rule (counters start again).
    pub fn set(&self, rules: Vec<FaultRule>) {
        let armed = rules
            .into_iter()
            .map(|rule| Armed {
                rng: StdRng::seed_from_u64(rule.seed.unwrap_or(0)),
                rule,
                matched: 0,
                fired: 0,
            })
            .collect();
        let mut rules = self.rules.lock().expect("not poisoned");
        *rules = armed;
        self.any.store(!rules.is_empty(), Ordering::Release);
    }

    /// Whether any rule is set (one that matches nothing still counts its requests).
    pub fn armed(&self) -> bool {
        self.any.load(Ordering::Acquire)
    }

    pub fn list(&self) -> Vec<RuleStatus> {
        self.rules
            .lock()
            .expect("not poisoned")
            .iter()
            .map(|a| RuleStatus {
                rule: a.rule.clone(),
                matched: a.matched,
                fired: a.fired,
            })
            .collect()
    }

    /// The action for this request, if a rule fires.
    pub fn decide(
        &self,
        endpoint: &str,
        app_id: Option<&str>,
        file_token: Option<&str>,
    ) -> Option<FaultAction> {
        if !self.any.load(Ordering::Acquire) {
            return None;
        }
        let mut rules = self.rules.lock().expect("not poisoned");
        for a in rules.iter_mut() {
            let r = &a.rule;
            let matches = (r.endpoint == "*" || r.endpoint == endpoint)
                && r.app_id.as_deref().is_none_or(|want| Some(want) == app_id)
                && r.file_token
                    .as_deref()
                    .is_none_or(|want| Some(want) == file_token);
            if !matches {
                continue;
            }
            a.matched += 1;
            let fires = match (r.times, r.every, r.probability) {
                (Some(times), _, _) => a.fired < times,
                (_, Some(every), _) => a.matched % every == 0,
                (_, _, Some(p)) => a.rng.random::<f64>() < p,
                _ => true,
            };
            if fires {
                a.fired += 1;
                return Some(a.rule.action.clone());
            }
        }
        None
    }
}

impl FaultAction {
    /// The error answer of a status action.
    pub fn error(&self) -> Option<crate::error::ApiError> {
        let (status, code) = (self.status?, self.code?);
        let known = ErrorCode::from_code(code);
        let mut e = crate::error::ApiError::new(known.unwrap_or(ErrorCode::Internal));
        e.status = axum::http::StatusCode::from_u16(status).ok();
        e.code_number = Some(code);
        e.msg = Some(match (&self.msg, known) {
            (Some(m), _) => m.clone(),
            (None, Some(k)) => k.message().to_owned(),
            (None, None) => "fault injected".to_owned(),
        });
        e.troubleshooter = Some("injected by a fault rule of this server's admin API".into());
        Some(e)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rules(json: &str) -> Vec<FaultRule> {
        parse_rules(json.as_bytes()).unwrap()
    }

    #[test]
    fn triggers() {
        let f = Faults::default();
        f.set(rules(
            r#"[{"endpoint":"download","times":2,"action":{"delay_ms":1}}]"#,
        ));
        let fired: Vec<bool> = (0..4)
            .map(|_| f.decide("download", None, None).is_some())
            .collect();
        assert_eq!(fired, [true, true, false, false]);
        f.set(rules(
            r#"[{"endpoint":"*","every":3,"action":{"delay_ms":1}}]"#,
        ));
        let fired: Vec<bool> = (0..6)
            .map(|_| f.decide("upload_all", None, None).is_some())
            .collect();
        assert_eq!(fired, [false, false, true, false, false, true]);
        f.set(rules(
            r#"[{"endpoint":"download","probability":0.5,"seed":7,"action":{"delay_ms":1}}]"#,
        ));
        let a: Vec<bool> = (0..32)
            .map(|_| f.decide("download", None, None).is_some())
            .collect();
        f.set(rules(
            r#"[{"endpoint":"download","probability":0.5,"seed":7,"action":{"delay_ms":1}}]"#,
        ));
        let b: Vec<bool> = (0..32)
            .map(|_| f.decide("download", None, None).is_some())
            .collect();
        assert_eq!(a, b, "same seed, same draws");
        assert!(a.iter().any(|x| *x) && a.iter().any(|x| !*x));
    }

    #[test]
    fn matching_by_token_and_app() {
        let f = Faults::default();
        f.set(rules(r#"[{"endpoint":"download","file_token":"boxA","app_id":"cli_a","action":{"delay_ms":1}}]"#));
        assert!(f.decide("download", Some("cli_a"), Some("boxB")).is_none());
        assert!(f.decide("download", Some("cli_b"), Some("boxA")).is_none());
        assert!(
            f.decide("upload_all", Some("cli_a"), Some("boxA"))
                .is_none()
        );
        assert!(f.decide("download", Some("cli_a"), Some("boxA")).is_some());
        assert_eq!(f.list()[0].matched, 1);
    }

    #[test]
    fn bad_rules_name_their_path() {
        for (json, path) in [
            (r#"{}"#, "$"),
            (
                r#"[{"endpoint":"nope","action":{"delay_ms":1}}]"#,
                "[0].endpoint",
            ),
            (r#"[{"endpoint":"download","action":{}}]"#, "[0].action"),
            (
                r#"[{"endpoint":"download","action":{"status":500}}]"#,
                "[0].action",
            ),
            (
                r#"[{"endpoint":"download","times":1,"every":2,"action":{"delay_ms":1}}]"#,
                "[0]",
            ),
            (
                r#"[{"endpoint":"download","probability":2,"action":{"delay_ms":1}}]"#,
                "[0].probability",
            ),
            (
                r#"[{"endpoint":"download","action":{"delay_ms":1}},{"endpoint":"download","action":{"bogus":1}}]"#,
                "[1].action",
            ),
        ] {
            let e = parse_rules(json.as_bytes()).unwrap_err();
            assert!(e.path.starts_with(path), "{json}: {e}");
        }
    }
}
