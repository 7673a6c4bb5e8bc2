//! Routing: each tenant's alerts go to its own webhook or channel; cluster-level and
//! unrouted alerts to the operator's default destination.
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use serde::Deserialize;

use super::transport::Transport;
use crate::alerts::signal::Severity;
use crate::config::SecretRef;
use crate::config::units::Dur;

/// `{webhook: {env: VAR}}` or `{bot_token: {file: PATH}, channel: C123}`, optionally with
/// a directory of template overrides and the least severity posted there.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawDestination {
    pub webhook: Option<SecretRef>,
    pub bot_token: Option<SecretRef>,
    pub channel: Option<String>,
    pub templates: Option<PathBuf>,
    /// Alerts less severe than this are not posted here (default: all).
    pub min_severity: Option<Severity>,
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
    /// The least severity each destination posts (tenant name, or `None` for the default).
    pub min_severity: BTreeMap<Option<String>, Severity>,
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
        let mut min_severity = BTreeMap::new();
        if let Some(m) = raw.default.min_severity {
            min_severity.insert(None, m);
        }
        for (name, d) in &raw.tenants {
            if let Some(m) = d.min_severity {
                min_severity.insert(Some(name.clone()), m);
            }
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
            min_severity,
            min_interval: raw.min_interval.map_or(Duration::from_secs(1), |d| d.0),
            timeout: raw.timeout.map_or(Duration::from_secs(10), |d| d.0),
        })
    }

    pub fn route(&self, tenant: Option<&str>) -> &Transport {
        tenant
            .and_then(|t| self.tenants.get(t))
            .unwrap_or(&self.default)
    }

    /// Whether an alert of `severity` is posted to the destination `tenant` routes to.
    pub fn posts(&self, tenant: Option<&str>, severity: Severity) -> bool {
        let key = tenant
            .filter(|t| self.tenants.contains_key(*t))
            .map(str::to_string);
        // Severity orders critical < warning < info: "at least as severe" is `<=`
        self.min_severity
            .get(&key)
            .is_none_or(|min| severity <= *min)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A webhook destination whose URL is in a file; `extra` adds fields.
    fn dest(name: &str, extra: &str) -> RawDestination {
        let p = std::env::temp_dir().join(format!("vigil-routes-{}-{name}", std::process::id()));
        std::fs::write(&p, format!("https://hooks.example/{name}")).unwrap();
        serde_yaml::from_str(&format!("{{webhook: {{file: {}}}{extra}}}", p.display())).unwrap()
    }

    #[test]
    fn min_severity_filters_per_destination() {
        let raw = RawSlack {
            default: dest("ops", ", min_severity: critical"),
            tenants: BTreeMap::from([
                ("acme".to_string(), dest("acme", ", min_severity: warning")),
                ("globex".to_string(), dest("globex", "")),
            ]),
            api_url: None,
            min_interval: None,
            timeout: None,
        };
        let r = Routes::new(&raw).unwrap();
        assert!(r.posts(Some("acme"), Severity::Critical));
        assert!(r.posts(Some("acme"), Severity::Warning));
        assert!(!r.posts(Some("acme"), Severity::Info));
        assert!(
            r.posts(Some("globex"), Severity::Info),
            "no minimum: everything"
        );
        // unrouted tenants and cluster alerts follow the default destination's minimum
        assert!(r.posts(Some("initech"), Severity::Critical));
        assert!(!r.posts(Some("initech"), Severity::Warning));
        assert!(!r.posts(None, Severity::Warning));
    }
}
