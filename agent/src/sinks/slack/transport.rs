//! Sending one payload to Slack: an incoming webhook (`POST <webhook url>`, answers `ok`)
//! or the Web API with a bot token (`chat.postMessage`, `chat.update`). Failures are
//! classified: 429 → wait `Retry-After`; 5xx, timeouts and network errors → retry with
//! backoff; anything else is permanent for this payload.
use std::time::Duration;

use serde_json::{Value, json};

use crate::secret::Secret;

#[derive(Debug, Clone)]
pub enum Transport {
    Webhook {
        url: Secret,
    },
    Bot {
        token: Secret,
        channel: String,
        /// `https://slack.com/api` unless pointed elsewhere (tests).
        api_url: String,
    },
}

#[derive(Debug, thiserror::Error)]
pub enum SendError {
    #[error("rate limited by slack: retry after {0:?}")]
    RateLimited(Duration),
    #[error("slack temporarily failed: {0}")]
    Temporary(String),
    #[error("slack refused the message: {0}")]
    Permanent(String),
}

/// Where a posted message went.
#[derive(Debug, Clone)]
pub struct Posted {
    pub channel: String,
    pub ts: Option<String>,
}

fn retry_after(r: &reqwest::Response) -> Duration {
    const DEFAULT: Duration = Duration::from_secs(1);
    let Some(v) = r.headers().get("retry-after") else {
        return DEFAULT;
    };
    let parsed = v
        .to_str()
        .ok()
        .and_then(|v| v.trim().parse::<f64>().ok())
        .and_then(|s| Duration::try_from_secs_f64(s).ok());
    parsed.unwrap_or_else(|| {
        tracing::warn!(retry_after = ?v, default = ?DEFAULT, "Slack's Retry-After is not a number of seconds; the default is used");
        DEFAULT
    })
}

fn network(e: reqwest::Error) -> SendError {
    // the URL may hold the webhook secret: never print it
    SendError::Temporary(e.without_url().to_string())
}

impl Transport {
    /// A key for per-channel rate limiting and ordering. Never contains a secret.
    pub fn channel_key(&self) -> String {
        match self {
            Transport::Webhook { url } => {
                let h = url.expose().bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
                    (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
                });
                format!("webhook-{h:016x}")
            }
            Transport::Bot { channel, .. } => channel.clone(),
        }
    }

    pub fn threads(&self) -> bool {
        matches!(self, Transport::Bot { .. })
    }

    /// Posts a message (a thread reply when `thread_ts` is given and threads exist).
    pub async fn post(
        &self,
        http: &reqwest::Client,
        payload: &Value,
        thread_ts: Option<&str>,
    ) -> Result<Posted, SendError> {
        match self {
            Transport::Webhook { url } => {
                let r = http
                    .post(url.expose())
                    .json(payload)
                    .send()
                    .await
                    .map_err(network)?;
                let status = r.status();
                if status.as_u16() == 429 {
                    return Err(SendError::RateLimited(retry_after(&r)));
                }
                let body = r.text().await.map_err(network)?;
                if status.is_success() {
                    Ok(Posted {
                        channel: self.channel_key(),
                        ts: None,
                    })
                } else if status.is_server_error() {
                    Err(SendError::Temporary(format!("HTTP {status}: {body}")))
                } else {
                    Err(SendError::Permanent(format!("HTTP {status}: {body}")))
                }
            }
            Transport::Bot { channel, .. } => {
                let mut body = payload.clone();
                body["channel"] = json!(channel);
                body["link_names"] = json!(false);
                body["unfurl_links"] = json!(false);
                if let Some(ts) = thread_ts {
                    body["thread_ts"] = json!(ts);
                }
                self.api(http, "chat.postMessage", &body).await
            }
        }
    }

    /// Replaces a posted message (bot token only; webhooks cannot edit).
    pub async fn update(
        &self,
        http: &reqwest::Client,
        channel: &str,
        ts: &str,
        payload: &Value,
    ) -> Result<Posted, SendError> {
        let mut body = payload.clone();
        body["channel"] = json!(channel);
        body["ts"] = json!(ts);
        self.api(http, "chat.update", &body).await
    }

    async fn api(
        &self,
        http: &reqwest::Client,
        method: &str,
        body: &Value,
    ) -> Result<Posted, SendError> {
        let Transport::Bot { token, api_url, .. } = self else {
            return Err(SendError::Permanent(format!("{method} needs a bot token")));
        };
        let r = http
            .post(format!("{}/{method}", api_url.trim_end_matches('/')))
            .bearer_auth(token.expose())
            .json(body)
            .send()
            .await
            .map_err(network)?;
        let status = r.status();
        if status.as_u16() == 429 {
            return Err(SendError::RateLimited(retry_after(&r)));
        }
        if status.is_server_error() {
            return Err(SendError::Temporary(format!("{method}: HTTP {status}")));
        }
        let v: Value = r.json().await.map_err(network)?;
        if v["ok"].as_bool() == Some(true) {
            return Ok(Posted {
                channel: v["channel"].as_str().unwrap_or_default().to_string(),
                ts: v["ts"].as_str().map(str::to_string),
            });
        }
        let err = v["error"].as_str().unwrap_or("unknown error").to_string();
        match err.as_str() {
            "ratelimited" => Err(SendError::RateLimited(Duration::from_secs(1))),
            "internal_error" | "fatal_error" | "service_unavailable" | "request_timeout" => {
                Err(SendError::Temporary(format!("{method}: {err}")))
            }
            _ => Err(SendError::Permanent(format!("{method}: {err}"))),
        }
    }
}
