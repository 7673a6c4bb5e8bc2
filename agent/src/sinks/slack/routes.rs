//! Routing: each tenant's alerts go to its own webhook or channel; cluster-level and
//! unrouted alerts to the operator's default destination.
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use serde::Deserialize;

use super::transport::Transport;
use crate::config::SecretRef;
use crate::config::units::Dur;

/// `{webhook: {env: VAR}}` or `{bot_token: {file: PATH}, channel: C123}`, optionally with
/// a directory of template overrides.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawDestination {
    pub webhook: Option<SecretRef>,
    pub bot_token: Option<SecretRef>,
    pub channel: Option<String>,
    pub templates: Option<PathBuf>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawSlack {
    pub default: RawDestination,
    #[serde(default)]
    pub tenants: BTreeMap<String, RawDestination>,
    /// Web API base URL (default `https://slack.com/api`).
    pub api_url: Option<String>,
    /// At most one message per channel per this interval (default 1s).
    pub min_interval: Option<Dur>,
    /// Per-request timeout (default 10s).
    pub timeout: Option<Dur>,
}

#[derive(Debug, Clone)]
pub struct Routes {
    pub default: Transport,
    pub tenants: BTreeMap<String, Transport>,
    pub templates: BTreeMap<String, PathBuf>,
    pub min_interval: Duration,
    pub timeout: Duration,
}

fn destination(d: &RawDestination, api_url: &str, at: &str) -> Result<Transport, (String, String)> {
    match (&d.webhook, &d.bot_token) {
        (Some(w), None) => {
            if d.channel.is_some() {
                return Err((
                    format!("{at}.channel"),
                    "a webhook posts to its own channel; remove `channel` or use `bot_token`"
                        .into(),
                ));
            }
            let url = w.resolve().map_err(|e| (format!("{at}.webhook"), e))?;
            if !(url.expose().starts_with("https://") || url.expose().starts_with("http://")) {
                return Err((
                    format!("{at}.webhook"),
                    "the webhook is not an http(s) URL".into(),
                ));
            }
            Ok(Transport::Webhook { url })
        }
        (None, Some(t)) => {
            let channel = d.channel.clone().ok_or_else(|| {
                (
                    format!("{at}.channel"),
                    "a bot token needs the channel id or name to post to".to_string(),
                )
            })?;
            Ok(Transport::Bot {
                token: t.resolve().map_err(|e| (format!("{at}.bot_token"), e))?,
                channel,
                api_url: api_url.to_string(),
            })
        }
        _ => Err((
            at.to_string(),
            "set exactly one of `webhook` or `bot_token` (with `channel`)".into(),
        )),
    }
}

impl Routes {
    /// Resolves secrets and checks every destination; errors are (location, message).
    pub fn new(raw: &RawSlack) -> Result<Routes, (String, String)> {
        let api_url = raw
            .api_url
            .clone()
            .unwrap_or_else(|| "https://slack.com/api".into());
        let mut templates = BTreeMap::new();
        let mut tenants = BTreeMap::new();
        for (name, d) in &raw.tenants {
            tenants.insert(
                name.clone(),
                destination(d, &api_url, &format!("slack.tenants.{name}"))?,
            );
            if let Some(t) = &d.templates {
                templates.insert(name.clone(), t.clone());
            }
        }
        Ok(Routes {
            default: destination(&raw.default, &api_url, "slack.default")?,
            tenants,
            templates,
            min_interval: raw.min_interval.map_or(Duration::from_secs(1), |d| d.0),
            timeout: raw.timeout.map_or(Duration::from_secs(10), |d| d.0),
        })
    }

    pub fn route(&self, tenant: Option<&str>) -> &Transport {
        tenant
            .and_then(|t| self.tenants.get(t))
            .unwrap_or(&self.default)
    }
}
