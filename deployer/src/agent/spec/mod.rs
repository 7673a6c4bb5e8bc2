//! What `vigil agent install` is asked for (flags and the operator's alerting file), checked
//! into [`Settings`]: every value known good, no secret values in it (they stay in
//! [`Credentials`], read at install time from a file or an environment variable).

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

mod alerting;

pub use alerting::{
    Alerting, AlertingCluster, AlertingSlack, TenantRoute, parse_alerting, read_alerting,
};

use crate::input::{Problem, Redacted};
use crate::tenant::validate::{self, CredentialRef, Image, dns_label};

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
    /// Raw sockets: NET_RAW added, through the binary's file capability (see docs/install.md).
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
    /// Tenants with an incoming webhook of their own (often into the client's workspace).
    #[serde(default, skip_serializing_if = "BTreeSet::is_empty")]
    pub tenant_webhooks: BTreeSet<String>,
}

impl SlackSettings {
    pub fn any(&self) -> bool {
        self.webhook || self.token
    }
}

pub use vigil_contract::alerts::FencingMode;

fn is_off(f: &FencingMode) -> bool {
    *f == FencingMode::Off
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
    /// Opt-in fencing of dead nodes by the leader (`--fencing`).
    #[serde(default, skip_serializing_if = "is_off")]
    pub fencing: FencingMode,
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
    pub tenant_webhooks: BTreeMap<String, CredentialRef>,
}

/// Slack credential values, read at install time; never printed (see [`Redacted`]).
#[derive(Debug, Clone, Default)]
pub struct Credentials {
    pub webhook: Option<Redacted>,
    pub token: Option<Redacted>,
    pub tenant_webhooks: BTreeMap<String, Redacted>,
}

impl Credentials {
    pub fn is_empty(&self) -> bool {
        self.webhook.is_none() && self.token.is_none() && self.tenant_webhooks.is_empty()
    }
}

/// The Secret key of a tenant's webhook.
pub fn tenant_webhook_key(tenant: &str) -> String {
    format!("tenant.{tenant}.webhook")
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
    pub fencing: FencingMode,
    pub slack_channel: Option<String>,
    pub slack_webhook_file: Option<PathBuf>,
    pub slack_webhook_env: Option<String>,
    pub slack_token_file: Option<PathBuf>,
    pub slack_token_env: Option<String>,
    /// `(tenant, path)` of `--slack-tenant-webhook-file TENANT=PATH`.
    pub slack_tenant_webhook_files: Vec<(String, String)>,
    /// `(tenant, variable)` of `--slack-tenant-webhook-env TENANT=VAR`.
    pub slack_tenant_webhook_envs: Vec<(String, String)>,
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
    let mut tenant_webhooks = BTreeMap::new();
    let given = r
        .slack_tenant_webhook_files
        .iter()
        .map(|(t, v)| (t, Some(PathBuf::from(v)), None))
        .chain(
            r.slack_tenant_webhook_envs
                .iter()
                .map(|(t, v)| (t, None, Some(v.clone()))),
        );
    for (tenant, file, env) in given {
        let path = format!("--slack-tenant-webhook {tenant}");
        if let Err(why) = dns_label(tenant, 63) {
            c.0.push(Problem::new(
                &path,
                format!("tenant name {tenant:?} {why}"),
                "write TENANT=PATH or TENANT=VARIABLE with the tenant's name, e.g. acme=/run/secrets/acme-webhook",
            ));
            continue;
        }
        if tenant_webhooks.contains_key(tenant) {
            c.0.push(Problem::new(
                &path,
                "given twice",
                "give one webhook per tenant",
            ));
            continue;
        }
        if let Some(Some(reference)) = c.check(reference(&path, &file, &env)) {
            tenant_webhooks.insert(tenant.clone(), reference);
        }
    }
    let refs = CredentialRefs {
        webhook: webhook.flatten(),
        token: token.flatten(),
        tenant_webhooks,
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
        fencing: r.fencing,
        slack: SlackSettings {
            channel: r.slack_channel.clone(),
            webhook: refs.webhook.is_some(),
            token: refs.token.is_some(),
            tenant_webhooks: refs.tenant_webhooks.keys().cloned().collect(),
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
    for tenant in s.alerting.slack.iter().flat_map(|x| x.tenants.keys()) {
        let at = format!("--config: slack.tenants.{tenant}");
        if slack.tenant_webhooks.contains(tenant) {
            problems.push(Problem::new(
                &at,
                "the tenant has both a channel here and a webhook of its own",
                format!(
                    "a webhook posts to its own channel: remove slack.tenants.{tenant} from the file, or its --slack-tenant-webhook"
                ),
            ));
        } else if !slack.token {
            problems.push(Problem::new(
                &at,
                "a tenant route with a channel needs the bot token to post with",
                "install with --slack-token-file/--slack-token-env and --slack-channel, or give the tenant a webhook (--slack-tenant-webhook-file TENANT=PATH)",
            ));
        }
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
        let webhook = read(&self.webhook, "--slack-webhook");
        let token = read(&self.token, "--slack-token");
        let tenant_webhooks = self
            .tenant_webhooks
            .iter()
            .filter_map(|(t, r)| {
                read(&Some(r.clone()), &format!("--slack-tenant-webhook {t}"))
                    .map(|v| (t.clone(), v))
            })
            .collect();
        let creds = Credentials {
            webhook,
            token,
            tenant_webhooks,
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
        self.webhook.is_none() && self.token.is_none() && self.tenant_webhooks.is_empty()
    }
}

/// The agent's namespace: an RFC 1123 label, not a system namespace (uninstall deletes it).
pub fn namespace(path: &str, raw: &str) -> Result<String, Problem> {
    // `<namespace>-state` holds the agent's state and must be a valid name too
    if let Err(why) = dns_label(raw, 63 - crate::agent::build::STATE_NAMESPACE_SUFFIX.len()) {
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
    fn icmp_auto_follows_the_cluster_version() {
        assert_eq!(IcmpMode::Auto.resolve(20), IcmpMode::Sysctl);
        assert_eq!(IcmpMode::Auto.resolve(17), IcmpMode::NetRaw);
        assert_eq!(IcmpMode::Off.resolve(20), IcmpMode::Off);
    }
}
