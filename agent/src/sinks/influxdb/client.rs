//! One HTTP write to InfluxDB (v2 `/api/v2/write` or v1 `/write`) and what its answer means.
use std::time::Duration;

use reqwest::StatusCode;
use reqwest::header::{AUTHORIZATION, CONTENT_ENCODING, CONTENT_TYPE, RETRY_AFTER};

use super::config::{InfluxApi, InfluxSettings};

#[derive(Debug, thiserror::Error)]
pub enum WriteError {
    #[error("cannot build the HTTP client")]
    Client(#[source] reqwest::Error),
}

/// The answer to one write.
#[derive(Debug, PartialEq)]
pub enum WriteOutcome {
    Accepted,
    /// Temporary: connection failure, 5xx, 429. Retry later (after `retry_after` if given).
    Retry {
        reason: String,
        retry_after: Option<Duration>,
    },
    /// The data itself was refused (400, 413, 422): split the batch to isolate bad lines.
    BadData {
        reason: String,
    },
    /// Configuration problem (401, 403, 404): retried, but an operator must act.
    Refused {
        reason: String,
    },
}

pub struct InfluxClient {
    http: reqwest::Client,
    url: String,
    auth: Option<String>,
}

fn basic(user: &str, pass: &str) -> String {
    use base64::Engine;
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("{user}:{pass}"))
    )
}

fn query_escape(s: &str) -> String {
    let mut o = String::new();
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
            o.push(char::from(b));
        } else {
            o.push_str(&format!("%{b:02X}"));
        }
    }
    o
}

impl InfluxClient {
    pub fn new(s: &InfluxSettings) -> Result<InfluxClient, WriteError> {
        // https outputs: rustls with ring (installing twice is a no-op)
        let _ = rustls::crypto::ring::default_provider().install_default();
        let http = reqwest::Client::builder()
            .timeout(s.timeout)
            .connect_timeout(s.timeout.min(Duration::from_secs(5)))
            .build()
            .map_err(WriteError::Client)?;
        let (url, auth) = match &s.api {
            InfluxApi::V2 { org, bucket, token } => (
                format!(
                    "{}/api/v2/write?org={}&bucket={}&precision=ns",
                    s.url,
                    query_escape(org),
                    query_escape(bucket)
                ),
                Some(format!("Token {}", token.expose())),
            ),
            InfluxApi::V1 {
                database,
                retention_policy,
                username,
                password,
            } => {
                let mut url = format!("{}/write?db={}&precision=ns", s.url, query_escape(database));
                if let Some(rp) = retention_policy {
                    url.push_str(&format!("&rp={}", query_escape(rp)));
                }
                let auth = username
                    .as_ref()
                    .map(|u| basic(u, password.as_ref().map_or("", |p| p.expose())));
                (url, auth)
            }
        };
        Ok(InfluxClient { http, url, auth })
    }

    /// Sends one body (line protocol, gzipped if `gzip`).
    pub async fn write(&self, body: Vec<u8>, gzip: bool) -> WriteOutcome {
        let mut req = self
            .http
            .post(&self.url)
            .header(CONTENT_TYPE, "text/plain; charset=utf-8")
            .body(body);
        if gzip {
            req = req.header(CONTENT_ENCODING, "gzip");
        }
        if let Some(a) = &self.auth {
            req = req.header(AUTHORIZATION, a);
        }
        let resp = match req.send().await {
            Ok(r) => r,
            Err(e) => {
                return WriteOutcome::Retry {
                    reason: crate::error::chain(&e),
                    retry_after: None,
                };
            }
        };
        let status = resp.status();
        if status.is_success() {
            return WriteOutcome::Accepted;
        }
        let retry_after = resp.headers().get(RETRY_AFTER).and_then(|v| {
            let secs = v.to_str().ok().and_then(|v| v.trim().parse::<u64>().ok());
            if secs.is_none() {
                tracing::warn!(%status, retry_after = ?v, "InfluxDB's Retry-After is not a number of seconds; ignored");
            }
            secs.map(Duration::from_secs)
        });
        let text = resp.text().await.unwrap_or_default();
        let reason = format!(
            "HTTP {status}: {}",
            text.trim().chars().take(300).collect::<String>()
        );
        match status {
            StatusCode::BAD_REQUEST
            | StatusCode::PAYLOAD_TOO_LARGE
            | StatusCode::UNPROCESSABLE_ENTITY => WriteOutcome::BadData { reason },
            StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN | StatusCode::NOT_FOUND => {
                WriteOutcome::Refused { reason }
            }
            _ => WriteOutcome::Retry {
                reason,
                retry_after,
            },
        }
    }
}
