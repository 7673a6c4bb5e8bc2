//! What `vigil agent install` is asked for (flags and the operator's alerting file), checked
//! into [`Settings`]: every value known good, no secret values in it (they stay in
//! [`Credentials`], read at install time from a file or an environment variable).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::tenant::validate::{self, CredentialRef, Image, Problem, Redacted, dns_label};

pub const DEFAULT_NAMESPACE: &str = "vigil-system";
/// The same image as the tenant collector: one binary, two roles.
pub const DEFAULT_IMAGE: &str = validate::DEFAULT_COLLECTOR_IMAGE;
/// The PriorityClass value: above every workload (default 0), below `system-*` (2e9).
pub const DEFAULT_PRIORITY: i32 = 1_000_000;

/// How the agent may send ICMP echo requests.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum, Default)]
#[serde(rename_all = "kebab-case")]
pub enum IcmpMode {
    /// `sysctl` where the cluster allows it (Kubernetes 1.18+), else `net-raw`.
    #[default]
    Auto,
    /// Unprivileged ICMP sockets through the pod's `net.ipv4.ping_group_range` sysctl.
    Sysctl,
    /// Raw sockets: the NET_RAW capability is added (and nothing else).
    NetRaw,
    /// No ICMP at all.
    Off,
}

impl IcmpMode {
    /// Resolves `auto` for a cluster of Kubernetes `1.minor`.
    pub fn resolve(self, minor: u32) -> Self {
        match self {
            Self::Auto if minor >= 18 => Self::Sysctl,
            Self::Auto => Self::NetRaw,
            other => other,
        }
    }
}

/// The operator's alerting policy (`--config FILE`) in vigil-agent's `cluster` format (see
/// docs/alerts.md): rules, maintenance windows, the digest, tenant routes... Passed to the
/// agent as written; the keys vigil owns (where state lives, the Slack credentials) are refused.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Alerting {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cluster: Option<AlertingCluster>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tenant_namespaces: Option<serde_json::Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rules: Option<serde_json::Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub repeat_interval: Option<serde_json::Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub flapping: Option<serde_json::Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub maintenance: Option<serde_json::Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub digest: Option<serde_json::Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub slack: Option<AlertingSlack>,
    /// InfluxDB for the `alerts` measurement (the collector's `output` format).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub output: Option<serde_json::Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub spool: Option<serde_json::Value>,
}

/// `cluster:` keys the operator may set (namespace, state and credentials are vigil's).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AlertingCluster {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lease_duration: Option<serde_json::Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub evaluation_interval: Option<serde_json::Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub node_selector: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespaces: Option<Vec<String>>,
}

/// `slack:` keys the operator may set: the default destination is made from the install's
/// credentials; a tenant route names a channel (posted with the install's bot token).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AlertingSlack {
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub tenants: BTreeMap<String, TenantRoute>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api_url: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_interval: Option<serde_json::Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout: Option<serde_json::Value>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TenantRoute {
    pub channel: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub templates: Option<String>,
}

/// Which Slack credentials the install has (never their values) and the default channel.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SlackSettings {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub channel: Option<String>,
    #[serde(default)]
    pub webhook: bool,
    #[serde(default)]
    pub token: bool,
}

impl SlackSettings {
    pub fn any(&self) -> bool {
        self.webhook || self.token
    }
}

/// A checked install: what [`super::build`] renders. Recorded (as JSON) on the DaemonSet so
/// that `upgrade` changes only the image and the configuration.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Settings {
    pub namespace: String,
    pub image: String,
    pub icmp: IcmpMode,
    /// `N` nodes or `N%` of them upgraded at a time.
    pub max_unavailable: String,
    /// Only nodes with these labels (default: every Linux node).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub node_selector: BTreeMap<String, String>,
    pub priority: i32,
    #[serde(default)]
    pub slack: SlackSettings,
    #[serde(default)]
    pub alerting: Alerting,
}

/// The Slack credentials to store, by reference until [`Credentials::read`].
#[derive(Debug, Clone, Default)]
pub struct CredentialRefs {
    pub webhook: Option<CredentialRef>,
    pub token: Option<CredentialRef>,
}

/// Slack credential values, read at install time; never printed (see [`Redacted`]).
#[derive(Debug, Clone, Default)]
pub struct Credentials {
    pub webhook: Option<Redacted>,
    pub token: Option<Redacted>,
}

impl Credentials {
    pub fn is_empty(&self) -> bool {
        self.webhook.is_none() && self.token.is_none()
    }
}

/// Install inputs as given on the command line (secrets only by reference).
#[derive(Debug, Clone, Default)]
pub struct Request {
    pub namespace: String,
    pub image: Option<String>,
    pub config: Option<PathBuf>,
    pub icmp: IcmpMode,
    pub max_unavailable: Option<String>,
    pub node_selector: Vec<(String, String)>,
    pub priority: Option<i32>,
    pub slack_channel: Option<String>,
    pub slack_webhook_file: Option<PathBuf>,
    pub slack_webhook_env: Option<String>,
    pub slack_token_file: Option<PathBuf>,
    pub slack_token_env: Option<String>,
}

/// Collects every problem, so one run says everything to fix.
#[derive(Default)]
struct Checker(Vec<Problem>);

impl Checker {
    fn check<T>(&mut self, r: Result<T, Problem>) -> Option<T> {
        r.map_err(|p| self.0.push(p)).ok()
    }
}

/// Checks the namespace, image, policy file and credential references (not their values).
pub fn validate(r: &Request) -> Result<(Settings, CredentialRefs), validate::Error> {
    let mut c = Checker::default();
    let namespace = c.check(namespace("--namespace", &r.namespace));
    let image = c.check(
        Image::parse("--image", r.image.as_deref().unwrap_or(DEFAULT_IMAGE))
            .map(|i| i.as_str().to_owned()),
    );
    let max_unavailable = c.check(max_unavailable(
        "--max-unavailable",
        r.max_unavailable.as_deref().unwrap_or("1"),
    ));
    for (k, v) in &r.node_selector {
        c.check(label("--node-selector", k, v));
    }
    let priority = r.priority.unwrap_or(DEFAULT_PRIORITY);
    if !(1..=1_000_000_000).contains(&priority) {
        c.0.push(Problem::new(
            "--priority",
            format!("priority {priority} is out of range"),
            "use 1 to 1000000000 (higher values are reserved for system-* classes)",
        ));
    }
    if let Some(ch) = &r.slack_channel {
        c.check(channel("--slack-channel", ch));
    }
    let alerting = match &r.config {
        Some(path) => c.check(read_alerting(path)).unwrap_or_default(),
        None => Alerting::default(),
    };
    let webhook = c.check(reference(
        "--slack-webhook",
        &r.slack_webhook_file,
        &r.slack_webhook_env,
    ));
    let token = c.check(reference(
        "--slack-token",
        &r.slack_token_file,
        &r.slack_token_env,
    ));
    let refs = CredentialRefs {
        webhook: webhook.flatten(),
        token: token.flatten(),
    };
    if refs.webhook.is_some() && refs.token.is_some() {
        c.0.push(Problem::new(
            "--slack-webhook",
            "both a webhook and a bot token were given",
            "choose one transport: an incoming webhook, or a bot token with --slack-channel",
        ));
    }
    if !c.0.is_empty() {
        return Err(validate::Error {
            origin: "command line".into(),
            problems: c.0,
        });
    }
    let settings = Settings {
        namespace: namespace.unwrap_or_default(),
        image: image.unwrap_or_default(),
        icmp: r.icmp,
        max_unavailable: max_unavailable.unwrap_or_default(),
        node_selector: r.node_selector.iter().cloned().collect(),
        priority,
        slack: SlackSettings {
            channel: r.slack_channel.clone(),
            webhook: refs.webhook.is_some(),
            token: refs.token.is_some(),
        },
        alerting,
    };
    Ok((settings, refs))
}

/// The Slack settings as a whole, once the install's current state is known: exactly one
/// default destination, a channel exactly when a bot token posts, tenant routes only with a
/// bot token.
pub fn check_slack(s: &Settings) -> Result<(), validate::Error> {
    let mut problems = Vec::new();
    let slack = &s.slack;
    if !slack.any() {
        problems.push(Problem::new(
            "--slack-webhook",
            "the cluster agent has no Slack destination",
            "give --slack-webhook-file/--slack-webhook-env, or --slack-token-file/--slack-token-env with --slack-channel",
        ));
    }
    if slack.token && slack.channel.is_none() {
        problems.push(Problem::new(
            "--slack-channel",
            "a bot token needs the channel to post to",
            "add --slack-channel with a channel id (C0123456789) or name (#noc)",
        ));
    }
    if slack.webhook && !slack.token && slack.channel.is_some() {
        problems.push(Problem::new(
            "--slack-channel",
            "an incoming webhook posts to its own channel",
            "remove --slack-channel, or use a bot token (--slack-token-file/--slack-token-env)",
        ));
    }
    let tenant_routes = s
        .alerting
        .slack
        .as_ref()
        .is_some_and(|x| !x.tenants.is_empty());
    if tenant_routes && !slack.token {
        problems.push(Problem::new(
            "--config: slack.tenants",
            "tenant routes name channels, which only a bot token can post to",
            "install with --slack-token-file/--slack-token-env and --slack-channel",
        ));
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(validate::Error {
            origin: "command line".into(),
            problems,
        })
    }
}

impl CredentialRefs {
    /// Reads the values now (an unreadable or empty source is an input error, exit 2).
    pub fn read(&self) -> Result<Credentials, validate::Error> {
        let mut problems = Vec::new();
        let mut read = |r: &Option<CredentialRef>, path: &str| {
            r.as_ref()
                .and_then(|r| r.read(path).map_err(|p| problems.push(p)).ok())
        };
        let creds = Credentials {
            webhook: read(&self.webhook, "--slack-webhook"),
            token: read(&self.token, "--slack-token"),
        };
        if problems.is_empty() {
            Ok(creds)
        } else {
            Err(validate::Error {
                origin: "command line".into(),
                problems,
            })
        }
    }

    pub fn is_empty(&self) -> bool {
        self.webhook.is_none() && self.token.is_none()
    }
}

/// The agent's namespace: an RFC 1123 label, not a system namespace (uninstall deletes it).
pub fn namespace(path: &str, raw: &str) -> Result<String, Problem> {
    if let Err(why) = dns_label(raw, 63) {
        return Err(Problem::new(
            path,
            format!("namespace {raw:?} {why}"),
            "use lower-case letters, digits and '-', starting with a letter, e.g. vigil-system",
        ));
    }
    if raw == "default" || raw.starts_with("kube-") {
        return Err(Problem::new(
            path,
            format!("namespace {raw:?} is a system namespace"),
            "the agent gets a namespace of its own (uninstall deletes it); use e.g. vigil-system",
        ));
    }
    Ok(raw.to_owned())
}

/// A label `key=value`: key `[prefix/]name`, both parts and the value in Kubernetes' syntax.
fn label(path: &str, key: &str, value: &str) -> Result<(), Problem> {
    let name_ok = |n: &str| {
        !n.is_empty()
            && n.len() <= 63
            && n.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b))
            && n.bytes().next().is_some_and(|b| b.is_ascii_alphanumeric())
            && n.bytes().last().is_some_and(|b| b.is_ascii_alphanumeric())
    };
    let key_ok = match key.split_once('/') {
        Some((prefix, name)) => {
            crate::tenant::validate::dns_subdomain(prefix).is_ok() && name_ok(name)
        }
        None => name_ok(key),
    };
    if key_ok && (value.is_empty() || name_ok(value)) {
        Ok(())
    } else {
        Err(Problem::new(
            path,
            format!("{key}={value} is not a node label"),
            "write KEY=VALUE as in `kubectl get nodes --show-labels`, e.g. node-role.example.com/monitored=true",
        ))
    }
}

fn max_unavailable(path: &str, raw: &str) -> Result<String, Problem> {
    let (number, pct) = match raw.strip_suffix('%') {
        Some(n) => (n, true),
        None => (raw, false),
    };
    match number.parse::<u32>() {
        Ok(n) if n >= 1 && (!pct || n <= 100) => Ok(raw.to_owned()),
        _ => Err(Problem::new(
            path,
            format!("{raw:?} is not a number of nodes or a percentage"),
            "write e.g. 1 (one node at a time, the default) or 10%",
        )),
    }
}

fn channel(path: &str, raw: &str) -> Result<(), Problem> {
    let ok = !raw.is_empty()
        && raw.len() <= 80
        && !raw.chars().any(|c| c.is_whitespace() || c.is_control());
    if ok {
        Ok(())
    } else {
        Err(Problem::new(
            path,
            format!("{raw:?} is not a Slack channel"),
            "write a channel name such as #noc-alerts or a channel id such as C0123456789",
        ))
    }
}

/// `--slack-X-file` or `--slack-X-env`, at most one.
fn reference(
    path: &str,
    file: &Option<PathBuf>,
    env: &Option<String>,
) -> Result<Option<CredentialRef>, Problem> {
    let raw = crate::tenant::spec::SecretRef {
        env: env.clone(),
        file: file.clone(),
    };
    if file.is_none() && env.is_none() {
        return Ok(None);
    }
    if file.is_some() && env.is_some() {
        return Err(Problem::new(
            path,
            "both a file and an environment variable were given",
            format!("give one of {path}-file or {path}-env"),
        ));
    }
    let base = std::env::current_dir().unwrap_or_else(|_| PathBuf::from("."));
    CredentialRef::parse(path, &raw, &base).map(Some)
}

/// Reads the alerting file: unknown top-level keys are rejected with their line and column,
/// and a Slack credential written inline is refused (it would land in a ConfigMap).
pub fn read_alerting(path: &Path) -> Result<Alerting, Problem> {
    let where_ = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|e| {
        Problem::new(
            "--config",
            format!("cannot read {where_}: {e}"),
            "give the path of a readable YAML file with the alerting settings (docs/install.md)",
        )
    })?;
    parse_alerting(&where_, &text)
}

pub fn parse_alerting(origin: &str, text: &str) -> Result<Alerting, Problem> {
    if text.trim().is_empty() {
        return Ok(Alerting::default());
    }
    let alerting: Alerting = serde_yaml::from_str(text).map_err(|e| {
        let at = e
            .location()
            .map(|l| format!(" at line {}, column {}", l.line(), l.column()))
            .unwrap_or_default();
        Problem::new(
            &format!("{origin}{at}"),
            e.to_string(),
            "the file holds vigil-agent's alerting settings (rules, maintenance, digest, \
             slack.tenants, ...); the Slack credentials and where state lives are set by vigil \
             (see docs/install.md)",
        )
    })?;
    let value = serde_json::to_value(&alerting).unwrap_or_default();
    if let Some(at) = inline_secret(&value, String::new()) {
        return Err(Problem::new(
            &format!("{origin}: {at}"),
            "looks like a Slack credential written inline (it would be stored in a ConfigMap)",
            "remove it and pass it with --slack-webhook-file/--slack-webhook-env or \
             --slack-token-file/--slack-token-env; it is then stored in a Secret",
        ));
    }
    Ok(alerting)
}

/// The path of the first string that looks like a Slack webhook URL or token.
fn inline_secret(v: &serde_json::Value, at: String) -> Option<String> {
    match v {
        serde_json::Value::String(s) => {
            let s = s.trim();
            (s.contains("hooks.slack.com/")
                || ["xoxb-", "xoxp-", "xoxa-", "xoxs-"]
                    .iter()
                    .any(|p| s.starts_with(p)))
            .then_some(at)
        }
        serde_json::Value::Array(items) => items
            .iter()
            .enumerate()
            .find_map(|(i, x)| inline_secret(x, format!("{at}[{i}]"))),
        serde_json::Value::Object(map) => map.iter().find_map(|(k, x)| {
            let p = if at.is_empty() {
                k.clone()
            } else {
                format!("{at}.{k}")
            };
            inline_secret(x, p)
        }),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request() -> Request {
        Request {
            namespace: DEFAULT_NAMESPACE.into(),
            ..Default::default()
        }
    }

    #[test]
    fn defaults() {
        let (s, refs) = validate(&request()).expect("valid");
        assert_eq!(s.image, DEFAULT_IMAGE);
        assert_eq!(s.max_unavailable, "1");
        assert_eq!(s.icmp, IcmpMode::Auto);
        assert!(refs.is_empty());
    }

    #[test]
    fn every_problem_is_reported_at_once() {
        let r = Request {
            namespace: "Kube_System".into(),
            image: Some("vigil-agent:latest".into()),
            max_unavailable: Some("0".into()),
            slack_webhook_env: Some("1BAD".into()),
            slack_token_file: Some("/x".into()),
            slack_token_env: Some("T".into()),
            ..Default::default()
        };
        let e = validate(&r).expect_err("invalid");
        let paths: Vec<&str> = e.problems.iter().map(|p| p.path.as_str()).collect();
        assert_eq!(
            paths,
            [
                "--namespace",
                "--image",
                "--max-unavailable",
                "--slack-webhook",
                "--slack-token"
            ]
        );
    }

    #[test]
    fn alerting_file_rejects_unknown_keys_and_inline_secrets() {
        let e = parse_alerting("a.yaml", "rules: {}\nslack:\n  default: x\n").expect_err("unknown");
        assert!(e.path.contains("line 3"), "{e}");
        let e = parse_alerting(
            "a.yaml",
            "maintenance:\n- name: a\n  note: https://hooks.slack.com/services/T/B/X\n",
        )
        .expect_err("inline");
        assert_eq!(e.path, "a.yaml: maintenance[0].note");
        let ok = parse_alerting("a.yaml", "rules:\n  PodCrashLooping: {for: 30s}\n").expect("ok");
        assert!(ok.rules.is_some());
    }

    #[test]
    fn icmp_auto_follows_the_cluster_version() {
        assert_eq!(IcmpMode::Auto.resolve(20), IcmpMode::Sysctl);
        assert_eq!(IcmpMode::Auto.resolve(17), IcmpMode::NetRaw);
        assert_eq!(IcmpMode::Off.resolve(20), IcmpMode::Off);
    }
}
