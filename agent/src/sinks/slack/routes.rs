//! Routing: each tenant's alerts go to its own webhook or channel; cluster-level and
//! unrouted alerts to the operator's default destination. Within a destination, `routes`
//! send the alerts of devices carrying given tags elsewhere (first match wins), and
//! `min_severity` leaves out less severe alerts.
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use super::transport::Transport;
use crate::secret::Resolve;
use vigil_contract::alert_state::{Scope, Severity};

/// The `slack:` section as configured, part of the contract.
pub use vigil_contract::alerts::{
    Destination as RawDestination, Route as RawRoute, Slack as RawSlack,
};

/// Where one destination's alerts go.
#[derive(Debug, Clone)]
pub struct Destination {
    pub transport: Transport,
    pub min_severity: Option<Severity>,
    pub routes: Vec<Route>,
}

#[derive(Debug, Clone)]
pub struct Route {
    pub tags: BTreeMap<String, String>,
    pub transport: Transport,
    pub min_severity: Option<Severity>,
}

#[derive(Debug, Clone)]
pub struct Routes {
    pub default: Destination,
    pub tenants: BTreeMap<String, Destination>,
    pub templates: BTreeMap<String, PathBuf>,
    pub min_interval: Duration,
    pub timeout: Duration,
}

fn full(d: &RawDestination, api_url: &str, at: &str) -> Result<Destination, (String, String)> {
    let mut routes = Vec::new();
    for (i, r) in d.routes.iter().enumerate() {
        let at = format!("{at}.routes[{i}]");
        if r.tags.is_empty() {
            return Err((
                format!("{at}.tags"),
                "a route without tags would take every alert; give the device tags it is for"
                    .into(),
            ));
        }
        let raw = RawDestination {
            webhook: r.webhook.clone(),
            bot_token: r.bot_token.clone(),
            channel: r.channel.clone(),
            templates: None,
            min_severity: None,
            routes: Vec::new(),
        };
        routes.push(Route {
            tags: r.tags.clone(),
            transport: destination(&raw, api_url, &at)?,
            min_severity: r.min_severity,
        });
    }
    Ok(Destination {
        transport: destination(d, api_url, at)?,
        min_severity: d.min_severity,
        routes,
    })
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
            let url = w
                .resolve()
                .map_err(|e| (format!("{at}.webhook"), crate::error::chain(&e)))?;
            if !(url.expose().starts_with("https://") || url.expose().starts_with("http://")) {
                return Err((
                    format!("{at}.webhook"),
                    "the webhook is not an http(s) URL".into(),
                ));
            }
            Ok(Transport::Webhook {
                url,
                from: Some(w.clone()),
            })
        }
        (None, Some(t)) => {
            let channel = d.channel.clone().ok_or_else(|| {
                (
                    format!("{at}.channel"),
                    "a bot token needs the channel id or name to post to".to_string(),
                )
            })?;
            Ok(Transport::Bot {
                token: t
                    .resolve()
                    .map_err(|e| (format!("{at}.bot_token"), crate::error::chain(&e)))?,
                from: Some(t.clone()),
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
                full(d, &api_url, &format!("slack.tenants.{name}"))?,
            );
            if let Some(t) = &d.templates {
                templates.insert(name.clone(), t.clone());
            }
        }
        Ok(Routes {
            default: full(&raw.default, &api_url, "slack.default")?,
            tenants,
            templates,
            min_interval: raw.min_interval.map_or(Duration::from_secs(1), |d| d.0),
            timeout: raw.timeout.map_or(Duration::from_secs(10), |d| d.0),
        })
    }

    /// The transport and least severity for an alert about `scope`: its tenant's
    /// destination (else the default), or the first of its routes whose tags the device has.
    fn pick(&self, scope: &Scope) -> (&Transport, Option<Severity>) {
        let d = scope
            .tenant
            .as_deref()
            .and_then(|t| self.tenants.get(t))
            .unwrap_or(&self.default);
        d.routes
            .iter()
            .find(|r| r.tags.iter().all(|(k, v)| scope.tags.get(k) == Some(v)))
            .map_or((&d.transport, d.min_severity), |r| {
                (&r.transport, r.min_severity)
            })
    }

    pub fn route(&self, scope: &Scope) -> &Transport {
        self.pick(scope).0
    }

    /// Whether an alert of `severity` about `scope` is posted at all.
    pub fn posts(&self, scope: &Scope, severity: Severity) -> bool {
        // Severity orders critical < warning < info: "at least as severe" is `<=`
        self.pick(scope).1.is_none_or(|min| severity <= min)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A webhook destination whose URL is in a file; `extra` adds fields.
    fn dest(name: &str, extra: &str) -> RawDestination {
        let p = std::env::temp_dir().join(format!("vigil-routes-{}-{name}", std::process::id()));
        std::fs::write(&p, format!("https://hooks.example/{name}")).unwrap();
        serde_norway::from_str(&format!("{{webhook: {{file: {}}}{extra}}}", p.display())).unwrap()
    }

    fn scope(tenant: Option<&str>, tags: &[(&str, &str)]) -> Scope {
        Scope {
            tenant: tenant.map(str::to_string),
            tags: tags
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            ..Default::default()
        }
    }

    fn raw(default: RawDestination, tenants: Vec<(&str, RawDestination)>) -> RawSlack {
        RawSlack {
            default,
            tenants: tenants
                .into_iter()
                .map(|(n, d)| (n.to_string(), d))
                .collect(),
            api_url: None,
            min_interval: None,
            timeout: None,
        }
    }

    #[test]
    fn min_severity_filters_per_destination() {
        let r = Routes::new(&raw(
            dest("ops", ", min_severity: critical"),
            vec![
                ("acme", dest("acme", ", min_severity: warning")),
                ("globex", dest("globex", "")),
            ],
        ))
        .unwrap();
        let (acme, globex, initech) = (
            scope(Some("acme"), &[]),
            scope(Some("globex"), &[]),
            scope(Some("initech"), &[]),
        );
        assert!(r.posts(&acme, Severity::Critical));
        assert!(r.posts(&acme, Severity::Warning));
        assert!(!r.posts(&acme, Severity::Info));
        assert!(r.posts(&globex, Severity::Info), "no minimum: everything");
        // unrouted tenants and cluster alerts follow the default destination's minimum
        assert!(r.posts(&initech, Severity::Critical));
        assert!(!r.posts(&initech, Severity::Warning));
        assert!(!r.posts(&scope(None, &[]), Severity::Warning));
    }

    #[test]
    fn routes_send_tagged_devices_elsewhere_first_match_wins() {
        let core = std::env::temp_dir().join(format!("vigil-routes-{}-core", std::process::id()));
        std::fs::write(&core, "https://hooks.example/core").unwrap();
        let edge = std::env::temp_dir().join(format!("vigil-routes-{}-edge", std::process::id()));
        std::fs::write(&edge, "https://hooks.example/edge").unwrap();
        let acme = dest(
            "acme",
            &format!(
                ", routes: [{{tags: {{role: core, site: paris}}, webhook: {{file: {}}}, min_severity: critical}}, {{tags: {{role: core}}, webhook: {{file: {}}}}}]",
                core.display(),
                edge.display()
            ),
        );
        let r = Routes::new(&raw(dest("ops", ""), vec![("acme", acme)])).unwrap();
        let url = |s: &Scope| r.route(s).channel_key();
        let paris = scope(Some("acme"), &[("role", "core"), ("site", "paris")]);
        let lyon = scope(Some("acme"), &[("role", "core"), ("site", "lyon")]);
        let other = scope(Some("acme"), &[("role", "access")]);
        assert_eq!(
            url(&paris),
            r.tenants["acme"].routes[0].transport.channel_key()
        );
        assert_eq!(
            url(&lyon),
            r.tenants["acme"].routes[1].transport.channel_key()
        );
        assert_eq!(url(&other), r.tenants["acme"].transport.channel_key());
        assert!(
            !r.posts(&paris, Severity::Warning),
            "the route's own minimum"
        );
        assert!(r.posts(&lyon, Severity::Info));
        // another tenant's device with the same tags is not routed by acme's routes
        let globex = scope(Some("globex"), &[("role", "core"), ("site", "paris")]);
        assert_eq!(url(&globex), r.default.transport.channel_key());
        let bad = dest("bad", ", routes: [{tags: {}, webhook: {env: HOME}}]");
        let e = Routes::new(&raw(bad, vec![])).unwrap_err();
        assert_eq!(e.0, "slack.default.routes[0].tags");
    }
}
