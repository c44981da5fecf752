//! `GET /open-apis/authen/v1/authorize` (the consent page and its redirects),
//! `POST /open-apis/authen/v2/oauth/token` and `GET /open-apis/authen/v1/user_info`.

use super::json::{JSON_MAX, Limited};
use crate::error::{ApiError, json_response};
use crate::layers::auth::Authed;
use crate::services::oauth::{self, Consent, Params, Refused};
use crate::state::AppState;
use axum::extract::State;
use axum::http::request::Parts;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use feishu_media_proto::envelope::SuccessEnvelope;
use feishu_media_proto::oauth::ErrorAnswer;
use feishu_media_store::{PrincipalRef, User};
use serde_json::json;

/// At most this many users on the consent page.
const PAGE_USERS: usize = 200;

/// The consent page may show inline styles, and nothing else runs or loads.
const PAGE_CSP: &str = "default-src 'none'; style-src 'unsafe-inline'; base-uri 'none'";

fn page(status: StatusCode, title: &str, body: &str) -> Response {
    let html = format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width\"><title>{t}</title>\
         <style>body{{font:16px system-ui,sans-serif;max-width:32rem;margin:3rem auto;padding:0 1rem}}\
         button{{font-size:1rem;padding:.4rem 1rem;margin-right:.5rem}}</style></head>\
         <body><h1>{t}</h1>{body}</body></html>",
        t = escape(title)
    );
    let mut resp = (status, html).into_response();
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(PAGE_CSP),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    resp
}

/// Text for HTML, attribute values included.
fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// An error shown on the page: the request cannot be sent back to a verified address
/// (RFC 6749 §4.1.2.1), so it is never redirected.
fn refuse_page(why: &str) -> Response {
    page(
        StatusCode::BAD_REQUEST,
        "Authorization failed",
        &format!("<p>{}</p>", escape(why)),
    )
}

/// `redirect_uri` with `pairs` added to its query.
fn redirect(uri: &str, pairs: &[(&str, &str)]) -> Response {
    let mut q = form_urlencoded::Serializer::new(String::new());
    for (k, v) in pairs {
        q.append_pair(k, v);
    }
    let sep = if uri.contains('?') { '&' } else { '?' };
    let location = format!("{uri}{sep}{}", q.finish());
    match HeaderValue::from_str(&location) {
        Ok(v) => {
            let mut resp = StatusCode::FOUND.into_response();
            resp.headers_mut().insert(header::LOCATION, v);
            resp.headers_mut()
                .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
            resp
        }
        Err(_) => refuse_page("the redirect_uri cannot be sent in a Location header"),
    }
}

/// `GET /open-apis/authen/v1/authorize`.
pub async fn authorize(State(state): State<AppState>, parts: Parts) -> Response {
    match authorize_inner(&state, &parts).await {
        Ok(resp) | Err(resp) => resp,
    }
}

async fn authorize_inner(state: &AppState, parts: &Parts) -> Result<Response, Response> {
    let query: Vec<(String, String)> =
        form_urlencoded::parse(parts.uri.query().unwrap_or_default().as_bytes())
            .into_owned()
            .collect();
    let get = |k: &str| {
        query
            .iter()
            .find(|(n, _)| n == k)
            .map(|(_, v)| v.as_str())
            .filter(|v| !v.is_empty())
    };
    let internal = |e: feishu_media_store::StoreError| {
        tracing::error!(error = %e, "authorize: storage");
        page(
            StatusCode::INTERNAL_SERVER_ERROR,
            "Authorization failed",
            "<p>internal error</p>",
        )
    };
    let client_id = get("client_id").ok_or_else(|| refuse_page("client_id is required"))?;
    let app = state
        .meta
        .app(client_id)
        .await
        .map_err(internal)?
        .ok_or_else(|| refuse_page(&format!("no app {client_id:?}")))?;
    let redirect_uri =
        get("redirect_uri").ok_or_else(|| refuse_page("redirect_uri is required"))?;
    if !app.redirect_uris.iter().any(|u| u == redirect_uri) {
        return Err(refuse_page(&format!(
            "{redirect_uri:?} is not among the redirect_uris of {client_id} (declare it in the manifest)"
        )));
    }
    let st = get("state").unwrap_or_default();
    // From here on, errors go back to the client at its verified address.
    let back = |error: &str, why: &str| {
        let mut pairs = vec![("error", error), ("error_description", why)];
        if !st.is_empty() {
            pairs.push(("state", st));
        }
        redirect(redirect_uri, &pairs)
    };
    if get("response_type") != Some("code") {
        return Err(back(
            "unsupported_response_type",
            "response_type must be code",
        ));
    }
    let challenge = get("code_challenge");
    let method = match (challenge, get("code_challenge_method")) {
        (None, _) => None,
        (Some(_), None | Some("plain")) => Some("plain"),
        (Some(_), Some("S256")) => Some("S256"),
        (Some(_), Some(_)) => {
            return Err(back(
                "invalid_request",
                "code_challenge_method must be S256 or plain",
            ));
        }
    };
    let consent = Consent {
        scopes: oauth::narrow(get("scope"), &app.scopes),
        redirect_uri: redirect_uri.to_owned(),
        state: get("state").map(str::to_owned),
        code_challenge: challenge.map(str::to_owned),
        challenge_method: method.map(str::to_owned),
        app,
    };
    // The page offers the tenant's first users, in id order; `user_id=` reaches any.
    let tenant_users = || async {
        let users = state.meta.list_users().await.map_err(internal)?;
        Ok::<Vec<User>, Response>(
            users
                .into_iter()
                .filter(|u| u.tenant_key == consent.app.tenant_key)
                .take(PAGE_USERS)
                .collect(),
        )
    };
    let Some(user_id) = get("user_id") else {
        return Ok(consent_page(&query, &consent, &tenant_users().await?));
    };
    if get("decision") == Some("deny") {
        let mut pairs = vec![("error", "access_denied")];
        if !st.is_empty() {
            pairs.push(("state", st));
        }
        return Ok(redirect(redirect_uri, &pairs));
    }
    let user = state.meta.user(user_id).await.map_err(internal)?;
    if user.is_none_or(|u| u.tenant_key != consent.app.tenant_key) {
        return Err(refuse_page(&format!(
            "no user {user_id:?} in the tenant of {}",
            consent.app.app_id
        )));
    }
    let code = oauth::grant_code(state, &consent, user_id)
        .await
        .map_err(internal)?;
    let mut pairs = vec![("code", code.as_str())];
    if !st.is_empty() {
        pairs.push(("state", st));
    }
    Ok(redirect(redirect_uri, &pairs))
}

/// The page where a tester picks a user and grants or denies: a form that sends the
/// same request again with `user_id` and `decision`.
fn consent_page(query: &[(String, String)], consent: &Consent, users: &[User]) -> Response {
    let hidden: String = query
        .iter()
        .filter(|(k, _)| k != "user_id" && k != "decision")
        .map(|(k, v)| {
            format!(
                "<input type=\"hidden\" name=\"{}\" value=\"{}\">",
                escape(k),
                escape(v)
            )
        })
        .collect();
    let options: String = users
        .iter()
        .map(|u| {
            let label = match &u.name {
                Some(n) => format!("{n} ({})", u.user_id),
                None => u.user_id.clone(),
            };
            format!(
                "<option value=\"{}\">{}</option>",
                escape(&u.user_id),
                escape(&label)
            )
        })
        .collect();
    let scopes: String = consent
        .scopes
        .iter()
        .map(|s| format!("<li><code>{}</code></li>", escape(s)))
        .collect();
    let body = if users.is_empty() {
        format!(
            "<p>The tenant {} has no users to sign in as: declare some in the manifest.</p>",
            escape(&consent.app.tenant_key)
        )
    } else {
        format!(
            "<p><strong>{app}</strong> asks for:</p><ul>{scopes}</ul>\
             <form method=\"get\" action=\"{path}\">{hidden}\
             <p><label for=\"user_id\">Sign in as</label> \
             <select id=\"user_id\" name=\"user_id\">{options}</select></p>\
             <button type=\"submit\" name=\"decision\" value=\"grant\">Grant</button>\
             <button type=\"submit\" name=\"decision\" value=\"deny\">Deny</button></form>",
            app = escape(&consent.app.app_id),
            path = feishu_media_proto::endpoint::OAUTH_AUTHORIZE,
        )
    };
    page(StatusCode::OK, "Authorize", &body)
}

/// `POST /open-apis/authen/v2/oauth/token`: a JSON or a form body.
pub async fn token(
    State(state): State<AppState>,
    parts: Parts,
    body: Result<Limited<JSON_MAX>, ApiError>,
) -> Response {
    let params = match body {
        Ok(Limited(bytes)) => params(&parts, &bytes),
        Err(_) => Err(format!("the body must be at most {JSON_MAX} bytes")),
    };
    let answer = match params {
        Ok(p) => oauth::token(&state, &p).await,
        Err(why) => Err(Refused {
            error: feishu_media_proto::oauth::OAuthError::MissingParameter,
            description: Some(why),
            internal: None,
        }),
    };
    match answer {
        Ok(a) => json_response(StatusCode::OK, &a),
        Err(r) => {
            if let Some(e) = &r.internal {
                tracing::error!(error = %e, "oauth token: storage");
                return json_response(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    &json!({"code": 1061001, "error": "server_error", "error_description": "internal error"}),
                );
            }
            json_response(
                StatusCode::BAD_REQUEST,
                &ErrorAnswer {
                    code: r.error.code(),
                    error: r.error.error().into(),
                    error_description: r
                        .description
                        .unwrap_or_else(|| r.error.description().into()),
                },
            )
        }
    }
}

/// The body's parameters: `application/x-www-form-urlencoded`, else JSON (strings, or
/// numbers and booleans written as text).
fn params(parts: &Parts, bytes: &[u8]) -> Result<Params, String> {
    let form = parts
        .headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|t| t.starts_with("application/x-www-form-urlencoded"));
    if form {
        return Ok(form_urlencoded::parse(bytes).into_owned().collect());
    }
    let v: serde_json::Value =
        serde_json::from_slice(bytes).map_err(|e| format!("the body is not JSON: {e}"))?;
    let obj = v
        .as_object()
        .ok_or_else(|| "the body must be a JSON object".to_owned())?;
    Ok(obj
        .iter()
        .filter_map(|(k, v)| {
            let s = match v {
                serde_json::Value::String(s) => s.clone(),
                serde_json::Value::Number(n) => n.to_string(),
                serde_json::Value::Bool(b) => b.to_string(),
                _ => return None,
            };
            Some((k.clone(), s))
        })
        .collect())
}

/// `GET /open-apis/authen/v1/user_info`.
pub async fn user_info(
    State(state): State<AppState>,
    Authed(caller): Authed,
) -> Result<Response, ApiError> {
    let PrincipalRef::User(user_id) = caller.principal() else {
        return Err(ApiError::internal("user_info without a user"));
    };
    let user = state
        .meta
        .user(user_id)
        .await?
        .ok_or_else(|| ApiError::internal("a user token's user is gone"))?;
    let name = user.name.clone().unwrap_or_else(|| user.user_id.clone());
    // One id for the three kinds [ours]: seeded ids are already open ids (ou_…).
    let union = format!("on_{}", &crate::secret::token_hash(&user.user_id)[..24]);
    Ok(json_response(
        StatusCode::OK,
        &SuccessEnvelope::new(json!({
            "name": name,
            "en_name": name,
            "avatar_url": "",
            "avatar_thumb": "",
            "avatar_middle": "",
            "avatar_big": "",
            "open_id": user.user_id,
            "union_id": union,
            "user_id": user.user_id,
            "tenant_key": user.tenant_key,
            "email": "",
        })),
    ))
}
