//! [`Client`]: credentials, the quota, and the one request path with retries.

use crate::error::{Error, Result};
use crate::quota::{Limiters, Quota};
use crate::retry::{RetryPolicy, retryable};
use feishu_media_proto::endpoint::{self, Endpoint};
use feishu_media_proto::envelope::{AppCredentials, TenantAccessTokenResponse};
use reqwest::header::HeaderMap;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::Mutex;

/// Who the client acts as.
#[derive(Clone)]
enum Credentials {
    /// A self-built app: tenant access tokens are fetched and renewed as needed.
    App { app_id: String, app_secret: String },
    /// A user access token given by the caller.
    User(String),
}

/// A tenant token and when to stop using it.
struct CachedToken {
    token: String,
    /// Renew before this (ten minutes before it expires, as the official SDKs do).
    renew_at: Instant,
}

pub struct ClientBuilder {
    base_url: String,
    credentials: Option<Credentials>,
    quota: Quota,
    retry: RetryPolicy,
    timeout: Option<Duration>,
}

impl ClientBuilder {
    /// Tenant access tokens from an app's credentials.
    pub fn app_credentials(
        mut self,
        app_id: impl Into<String>,
        app_secret: impl Into<String>,
    ) -> Self {
        self.credentials = Some(Credentials::App {
            app_id: app_id.into(),
            app_secret: app_secret.into(),
        });
        self
    }

    /// A user access token.
    pub fn user_token(mut self, token: impl Into<String>) -> Self {
        self.credentials = Some(Credentials::User(token.into()));
        self
    }

    /// The quota to keep within, per endpoint as Feishu counts (default 5/s and 10 000/day
    /// for each; the bitable calls four times the rate; `per_second` 0: no wait).
    pub fn quota(mut self, quota: Quota) -> Self {
        self.quota = quota;
        self
    }

    pub fn retry(mut self, retry: RetryPolicy) -> Self {
        self.retry = retry;
        self
    }

    /// A limit on connecting and on each read (not on a whole download).
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }

    pub fn build(self) -> Result<Client> {
        let credentials = self
            .credentials
            .ok_or_else(|| Error::Invalid("give app credentials or a user token".into()))?;
        crate::install_tls_provider();
        let mut http = reqwest::Client::builder()
            .user_agent(concat!("feishu-media/", env!("CARGO_PKG_VERSION")));
        if let Some(t) = self.timeout {
            http = http.connect_timeout(t).read_timeout(t);
        }
        let http = http
            .build()
            .map_err(|e| Error::Invalid(format!("HTTP client: {e}")))?;
        Ok(Client {
            inner: Arc::new(Inner {
                http,
                base: self.base_url.trim_end_matches('/').to_owned(),
                credentials,
                token: Mutex::new(None),
                limiters: Limiters::new(self.quota),
                retry: self.retry,
            }),
        })
    }
}

struct Inner {
    http: reqwest::Client,
    base: String,
    credentials: Credentials,
    /// Locked while a token is fetched, so concurrent requests share one fetch.
    token: Mutex<Option<CachedToken>>,
    /// One per endpoint, as Feishu counts.
    limiters: Limiters,
    retry: RetryPolicy,
}

/// Cheap to clone; clones share the token, the quota and the connection pool.
#[derive(Clone)]
pub struct Client {
    inner: Arc<Inner>,
}

/// An answer that passed: its status and headers, and its body.
pub(crate) struct Answer {
    pub(crate) status: u16,
    pub(crate) headers: HeaderMap,
    pub(crate) body: Body,
}

/// A body still to stream (downloads), or already read (JSON successes).
pub(crate) enum Body {
    Stream(reqwest::Response),
    Read(bytes::Bytes),
}

fn header_str<'a>(h: &'a HeaderMap, name: &str) -> Option<&'a str> {
    h.get(name).and_then(|v| v.to_str().ok())
}

impl Client {
    /// A client for `base_url`: `https://open.feishu.cn`, `https://open.larksuite.com`,
    /// or a feishu-media server.
    pub fn builder(base_url: impl Into<String>) -> ClientBuilder {
        ClientBuilder {
            base_url: base_url.into(),
            credentials: None,
            quota: Quota::default(),
            retry: RetryPolicy::default(),
            timeout: Some(Duration::from_secs(60)),
        }
    }

    pub(crate) fn url(&self, path: &str) -> String {
        format!("{}{path}", self.inner.base)
    }

    pub(crate) fn retry_policy(&self) -> &RetryPolicy {
        &self.inner.retry
    }

    /// Who this client acts as, without its secret: the app id, or a hash of the user
    /// token (for keys written to disk, such as upload journals).
    pub(crate) fn identity(&self) -> String {
        match &self.inner.credentials {
            Credentials::App { app_id, .. } => format!("app:{app_id}"),
            Credentials::User(token) => {
                format!("user:{:016x}", crate::upload::fnv1a(token.as_bytes()))
            }
        }
    }

    /// Requests this client counted today, all endpoints together.
    pub fn requests_today(&self) -> u32 {
        self.inner.limiters.used_today()
    }

    /// The bearer token to send: the user token, or a tenant token fetched (once, however
    /// many requests wait for it) and renewed ten minutes before it expires.
    async fn bearer(&self, force_renew: bool) -> Result<String> {
        let (app_id, app_secret) = match &self.inner.credentials {
            Credentials::User(t) => return Ok(t.clone()),
            Credentials::App { app_id, app_secret } => (app_id, app_secret),
        };
        let mut cached = self.inner.token.lock().await;
        if let Some(c) = cached.as_ref()
            && !force_renew
            && Instant::now() < c.renew_at
        {
            return Ok(c.token.clone());
        }
        let body = AppCredentials {
            app_id: app_id.clone(),
            app_secret: app_secret.clone(),
        };
        let mut attempt = 0;
        let resp = loop {
            let sent = self
                .inner
                .http
                .post(self.url(endpoint::TENANT_ACCESS_TOKEN))
                .json(&body)
                .send()
                .await;
            match sent {
                Ok(r) if r.status().as_u16() < 500 => break r,
                Ok(_) | Err(_) if attempt + 1 < self.inner.retry.max_attempts => {
                    attempt += 1;
                    tokio::time::sleep(self.inner.retry.backoff(attempt)).await;
                }
                Ok(r) => {
                    return Err(Error::Api {
                        status: r.status().as_u16(),
                        code: 0,
                        msg: "token endpoint failed".into(),
                        troubleshooter: None,
                        log_id: None,
                        endpoint: Some(Endpoint::TenantAccessToken),
                    });
                }
                Err(e) => return Err(Error::transport(&e)),
            }
        };
        let status = resp.status().as_u16();
        let bytes = resp.bytes().await.map_err(|e| Error::transport(&e))?;
        match serde_json::from_slice::<TenantAccessTokenResponse>(&bytes) {
            Ok(t) if t.code == 0 => {
                let life = Duration::from_secs(t.expire.max(0) as u64);
                let renew_at = Instant::now() + life.saturating_sub(Duration::from_secs(600));
                *cached = Some(CachedToken {
                    token: t.tenant_access_token.clone(),
                    renew_at,
                });
                Ok(t.tenant_access_token)
            }
            _ => Err(Error::from_answer(
                Endpoint::TenantAccessToken,
                status,
                None,
                &bytes,
            )),
        }
    }

    /// Sends the request `make` builds (again for every try), with the bearer token,
    /// within the quota, retrying transport errors, 5xx, 1061045 and 429; a stale tenant
    /// token is renewed once. Answers with any 2xx (and 206/304/416 for downloads: the
    /// caller decides) that is not a JSON error envelope.
    /// The quota's time between two requests of `endpoint`.
    pub(crate) fn request_spacing(&self, endpoint: Endpoint) -> std::time::Duration {
        self.inner.limiters.of(endpoint).spacing()
    }

    pub(crate) async fn send(
        &self,
        endpoint: Endpoint,
        make: impl Fn(&reqwest::Client, String) -> reqwest::RequestBuilder,
        pass: &[u16],
    ) -> Result<Answer> {
        let policy = &self.inner.retry;
        let mut failures = 0u32;
        let mut renewed = false;
        let limiter = self.inner.limiters.of(endpoint);
        loop {
            limiter.acquire().await?;
            let token = self.bearer(false).await?;
            let sent = make(&self.inner.http, format!("Bearer {token}"))
                .send()
                .await;
            let resp = match sent {
                Ok(r) => r,
                Err(e) => {
                    policy
                        .after_failure(&mut failures, || Error::transport(&e))
                        .await?;
                    continue;
                }
            };
            let status = resp.status().as_u16();
            let headers = resp.headers().clone();
            let is_json = header_str(&headers, "content-type")
                .is_some_and(|c| c.starts_with("application/json"));
            if pass.contains(&status) || ((200..300).contains(&status) && !is_json) {
                return Ok(Answer {
                    status,
                    headers,
                    body: Body::Stream(resp),
                });
            }
            let log_id = header_str(&headers, "x-tt-logid").map(str::to_owned);
            let body = match resp.bytes().await {
                Ok(b) => b,
                Err(e) => {
                    policy
                        .after_failure(&mut failures, || Error::transport(&e))
                        .await?;
                    continue;
                }
            };
            let code = serde_json::from_slice::<serde_json::Value>(&body)
                .ok()
                .and_then(|v| v["code"].as_i64())
                .unwrap_or(0);
            if (200..300).contains(&status) && code == 0 {
                // A JSON success (uploads, links): hand the body back as the answer.
                return Ok(Answer {
                    status,
                    headers,
                    body: Body::Read(body),
                });
            }
            if status == 429 {
                let wait = header_str(&headers, "x-ogw-ratelimit-reset")
                    .or_else(|| header_str(&headers, "retry-after"))
                    .and_then(|v| v.trim().parse::<u64>().ok())
                    .map_or(Duration::from_secs(1), |s| Duration::from_secs(s.max(1)));
                if wait > policy.max_rate_limit_wait {
                    return Err(Error::from_answer(endpoint, status, log_id, &body));
                }
                tracing::debug!(?wait, "429: waiting as the server asks");
                tokio::time::sleep(wait).await;
                continue;
            }
            if !renewed
                && matches!(code, 99991663 | 99991661)
                && matches!(self.inner.credentials, Credentials::App { .. })
            {
                renewed = true;
                self.bearer(true).await?;
                continue;
            }
            let give_up = || Error::from_answer(endpoint, status, log_id.clone(), &body);
            if !retryable(status, code) {
                return Err(give_up());
            }
            policy.after_failure(&mut failures, give_up).await?;
        }
    }

    /// `data` of a JSON success answer.
    pub(crate) async fn json_data<T: serde::de::DeserializeOwned>(answer: Answer) -> Result<T> {
        let bytes = match answer.body {
            Body::Read(b) => b,
            Body::Stream(r) => r.bytes().await.map_err(|e| Error::transport(&e))?,
        };
        let v: serde_json::Value = serde_json::from_slice(&bytes)
            .map_err(|e| Error::Inconsistent(format!("not JSON: {e}")))?;
        serde_json::from_value(v["data"].clone())
            .map_err(|e| Error::Inconsistent(format!("unexpected data: {e}")))
    }

    /// Temporary download links for 1 to 5 media.
    pub async fn tmp_download_urls(
        &self,
        file_tokens: &[&str],
        extra: Option<&str>,
    ) -> Result<Vec<(String, String)>> {
        let mut query: Vec<(&str, &str)> =
            file_tokens.iter().map(|t| ("file_tokens", *t)).collect();
        if let Some(e) = extra {
            query.push(("extra", e));
        }
        let url = self.url(endpoint::BATCH_GET_TMP_DOWNLOAD_URL);
        let answer = self
            .send(
                Endpoint::BatchGetTmpDownloadUrl,
                |http, auth| http.get(&url).header("Authorization", auth).query(&query),
                &[],
            )
            .await?;
        let data: feishu_media_proto::tmp_url::TmpDownloadUrls = Self::json_data(answer).await?;
        Ok(data
            .tmp_download_urls
            .into_iter()
            .map(|u| (u.file_token, u.tmp_download_url))
            .collect())
    }
}
