//! Sending one payload to Slack: an incoming webhook (`POST <webhook url>`, answers `ok`)
//! or the Web API with a bot token (`chat.postMessage`, `chat.update`). Failures are
//! classified: 429 → wait `Retry-After`; 5xx, timeouts and network errors → retry with
//! backoff; a destination that refuses everything (revoked token, unknown channel, a
//! deleted webhook) → blocked, keep the messages and retry with the credential read again;
//! a refused payload (invalid blocks, too long) → rejected, send a plain-text version.
use std::time::Duration;

use serde_json::{Value, json};

use crate::secret::{Resolve, Secret, SecretRef};

#[derive(Debug, Clone)]
pub enum Transport {
    Webhook {
        url: Secret,
        /// Where the URL was read from: read again while the destination is blocked, so a
        /// rotated Secret is picked up without a restart.
        from: Option<SecretRef>,
    },
    Bot {
        token: Secret,
        from: Option<SecretRef>,
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
    /// Every message to this destination would fail the same way until someone fixes the
    /// credential, the channel or the webhook.
    #[error("slack refuses this destination: {0}")]
    Blocked(String),
    /// This payload was refused (blocks, length): a simpler one may pass.
    #[error("slack refused the payload: {0}")]
    Rejected(String),
    #[error("slack refused the message: {0}")]
    Permanent(String),
}

/// Web API errors that refuse the destination, not the message.
const BLOCKED: &[&str] = &[
    "invalid_auth",
    "not_authed",
    "token_revoked",
    "token_expired",
    "account_inactive",
    "channel_not_found",
    "not_in_channel",
    "is_archived",
    "missing_scope",
    "restricted_action",
    "team_access_not_granted",
    "ekm_access_denied",
    "org_login_required",
];

/// Web API errors that refuse this payload.
const REJECTED: &[&str] = &[
    "invalid_blocks",
    "invalid_blocks_format",
    "msg_too_long",
    "no_text",
    "too_many_attachments",
    "invalid_attachments",
    "invalid_arguments",
    "invalid_metadata_format",
    "metadata_too_large",
];

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
            Transport::Webhook { url, .. } => {
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
            Transport::Webhook { url, .. } => {
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
                let body: String = body.chars().take(200).collect();
                if status.is_success() {
                    Ok(Posted {
                        channel: self.channel_key(),
                        ts: None,
                    })
                } else if status.is_server_error() {
                    Err(SendError::Temporary(format!("HTTP {status}: {body}")))
                } else if status.as_u16() == 400 || status.as_u16() == 413 {
                    // invalid_payload, invalid_blocks, no_text, ...
                    Err(SendError::Rejected(format!("HTTP {status}: {body}")))
                } else {
                    // 403 invalid_token / action_prohibited, 404 no_service or
                    // channel_not_found, 410 channel_is_archived, ...
                    Err(SendError::Blocked(format!("HTTP {status}: {body}")))
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
            e if BLOCKED.contains(&e) => Err(SendError::Blocked(format!("{method}: {err}"))),
            e if REJECTED.contains(&e) => Err(SendError::Rejected(format!("{method}: {err}"))),
            _ => Err(SendError::Permanent(format!("{method}: {err}"))),
        }
    }

    /// The same destination with its credential read again from where it came from, if
    /// that gives a different value (a rotated Secret, a fixed file).
    pub fn reloaded(&self) -> Option<Transport> {
        match self {
            Transport::Webhook {
                url,
                from: Some(from),
            } => {
                let fresh = from.resolve().ok()?;
                (fresh != *url).then(|| Transport::Webhook {
                    url: fresh,
                    from: Some(from.clone()),
                })
            }
            Transport::Bot {
                token,
                from: Some(from),
                channel,
                api_url,
            } => {
                let fresh = from.resolve().ok()?;
                (fresh != *token).then(|| Transport::Bot {
                    token: fresh,
                    from: Some(from.clone()),
                    channel: channel.clone(),
                    api_url: api_url.clone(),
                })
            }
            _ => None,
        }
    }
}
