//! Turns the raw file into a validated [`Config`]: defaults applied, names checked,
//! secrets read, profiles resolved. Every error carries its location.
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use super::{
    AgentSettings, AuthProtocol, Config, ConfigError, Device, IcmpSettings, InfluxApi,
    InfluxSettings, PrivProtocol, SnmpCredentials, SnmpSettings, SpoolSettings,
};
use super::{Resolve, raw};
use crate::sources::snmp::{builtin, profile::Profile};

/// Tags the agent sets itself; devices may not override them.
pub const RESERVED_TAGS: &[&str] = &[
    "device",
    "agent_host",
    "hostname",
    "url",
    "index",
    "agent",
    "source",
];

struct Ctx<'a> {
    path: &'a Path,
}

impl Ctx<'_> {
    fn err(&self, location: impl Into<String>, message: impl Into<String>) -> ConfigError {
        ConfigError::Invalid {
            path: self.path.to_path_buf(),
            location: location.into(),
            message: message.into(),
        }
    }

    /// An error whose message is `e` with its causes: [`ConfigError::Invalid`] holds text.
    fn caused(&self, location: impl Into<String>, e: &dyn std::error::Error) -> ConfigError {
        self.err(location, crate::error::chain(e))
    }
}

fn default_agent_name() -> String {
    std::env::var("HOSTNAME")
        .ok()
        .filter(|h| !h.is_empty())
        .or_else(|| {
            std::fs::read_to_string("/etc/hostname")
                .ok()
                .map(|s| s.trim().to_string())
        })
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "vigil-agent".to_string())
}

fn valid_address(a: &str) -> bool {
    if a.parse::<std::net::IpAddr>().is_ok() {
        return true;
    }
    !a.is_empty()
        && a.len() <= 253
        && a.split('.').all(|l| {
            !l.is_empty()
                && l.len() <= 63
                && l.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
                && !l.starts_with('-')
                && !l.ends_with('-')
        })
}

/// A duration that must be more than zero: zero would make a timer panic or every request
/// time out at once.
fn positive(cx: &Ctx<'_>, at: &str, d: Duration, example: &str) -> Result<Duration, ConfigError> {
    if d.is_zero() {
        return Err(cx.err(
            at,
            format!("must be more than 0s (e.g. {example}); remove it for the default"),
        ));
    }
    Ok(d)
}

pub fn resolve(raw: raw::Config, path: &Path) -> Result<Config, ConfigError> {
    let cx = Ctx { path };
    let agent = AgentSettings {
        name: raw.agent.name.clone().unwrap_or_else(default_agent_name),
        listen: raw.agent.listen.clone(),
        concurrency: raw.agent.concurrency.unwrap_or(64),
        self_metrics_interval: raw
            .agent
            .self_metrics_interval
            .map_or(Duration::from_secs(60), |d| d.0),
        icmp_rate: raw
            .agent
            .icmp_rate
            .unwrap_or(crate::sources::icmp::DEFAULT_RATE),
        alerts: raw
            .agent
            .alerts
            .as_ref()
            .map(|f| path.parent().unwrap_or(Path::new(".")).join(f)),
        tenant: raw.agent.tenant.clone(),
    };
    if agent.icmp_rate == 0 {
        return Err(cx.err(
            "agent.icmp_rate",
            "must be at least 1 (echo requests per second)",
        ));
    }
    if agent.concurrency == 0 {
        return Err(cx.err("agent.concurrency", "must be at least 1"));
    }
    positive(
        &cx,
        "agent.self_metrics_interval",
        agent.self_metrics_interval,
        "60s",
    )?;
    if let Some(l) = &agent.listen
        && l.parse::<std::net::SocketAddr>().is_err()
    {
        return Err(cx.err(
            "agent.listen",
            format!("{l:?} is not an address:port such as 0.0.0.0:9273"),
        ));
    }
    let spool = SpoolSettings {
        dir: raw
            .spool
            .dir
            .clone()
            .unwrap_or_else(|| "/var/lib/vigil-agent/spool".into()),
        max_bytes: raw.spool.max_size.map_or(1 << 30, |b| b.0),
        fsync: raw.spool.fsync.unwrap_or(true),
    };
    if spool.max_bytes < 1 << 20 {
        return Err(cx.err("spool.max_size", "must be at least 1MiB"));
    }
    let output = match raw.output {
        None => None,
        Some(o) => {
            let i = o.influxdb;
            let at = "output.influxdb";
            if !(i.url.starts_with("http://") || i.url.starts_with("https://")) {
                return Err(cx.err(
                    format!("{at}.url"),
                    format!("{:?} must start with http:// or https://", i.url),
                ));
            }
            let api = match (i.v2, i.v1) {
                (Some(v2), None) => InfluxApi::V2 {
                    org: v2.org,
                    bucket: v2.bucket,
                    token: v2
                        .token
                        .resolve()
                        .map_err(|e| cx.caused(format!("{at}.v2.token"), &e))?,
                },
                (None, Some(v1)) => InfluxApi::V1 {
                    database: v1.database,
                    retention_policy: v1.retention_policy,
                    username: v1.username,
                    password: v1
                        .password
                        .map(|p| p.resolve())
                        .transpose()
                        .map_err(|e| cx.caused(format!("{at}.v1.password"), &e))?,
                },
                _ => {
                    return Err(cx.err(
                        at,
                        "set exactly one of `v2` (org, bucket, token) or `v1` (database, ...)",
                    ));
                }
            };
            let batch_size = i.batch_size.unwrap_or(5000);
            if batch_size == 0 {
                return Err(cx.err(format!("{at}.batch_size"), "must be at least 1"));
            }
            if i.parallel_writes == Some(0) {
                return Err(cx.err(format!("{at}.parallel_writes"), "must be at least 1"));
            }
            Some(InfluxSettings {
                url: i.url.trim_end_matches('/').to_string(),
                api,
                batch_size,
                flush_interval: positive(
                    &cx,
                    &format!("{at}.flush_interval"),
                    i.flush_interval.map_or(Duration::from_secs(1), |d| d.0),
                    "1s",
                )?,
                gzip: i.gzip.unwrap_or(true),
                parallel_writes: i.parallel_writes.unwrap_or(4).clamp(1, 64),
                drain_timeout: i.drain_timeout.map_or(Duration::from_secs(10), |d| d.0),
                timeout: positive(
                    &cx,
                    &format!("{at}.timeout"),
                    i.timeout.map_or(Duration::from_secs(10), |d| d.0),
                    "10s",
                )?,
            })
        }
    };

    // profiles: built-in, from files, inline
    let mut profiles: BTreeMap<String, Arc<Profile>> = BTreeMap::new();
    for name in builtin::NAMES {
        if let Some(p) = builtin::get(name) {
            profiles.insert(name.to_string(), Arc::new(p));
        }
    }
    let base = path.parent().unwrap_or(Path::new("."));
    let mut user: Vec<(String, raw::Profile, String)> = Vec::new();
    for (i, file) in raw.profile_files.iter().enumerate() {
        let full = base.join(file);
        let text = std::fs::read_to_string(&full).map_err(|e| {
            cx.err(
                format!("profile_files[{i}]"),
                format!("cannot read {}: {e}", full.display()),
            )
        })?;
        let map: BTreeMap<String, raw::Profile> = serde_norway::from_str(&text).map_err(|e| {
            cx.err(
                format!("profile_files[{i}]"),
                format!("{}: {e}", full.display()),
            )
        })?;
        for (name, p) in map {
            user.push((name.clone(), p, format!("{}: {name}", full.display())));
        }
    }
    for (name, p) in raw.profiles {
        let at = format!("profiles.{name}");
        user.push((name, p, at));
    }
    for (name, p, at) in user {
        if profiles.contains_key(&name) {
            return Err(cx.err(
                at,
                format!("profile {name:?} is already defined (built-in or earlier)"),
            ));
        }
        let resolved = Profile::from_raw(&name, &p, &at).map_err(|e| cx.caused(at.clone(), &e))?;
        profiles.insert(name, Arc::new(resolved));
    }

    let d = &raw.defaults;
    let interval = d.interval.map_or(Duration::from_secs(60), |d| d.0);
    let mut names = BTreeSet::new();
    let mut devices = Vec::new();
    for (i, rd) in raw.devices.iter().enumerate() {
        let at = format!("devices[{i}] ({})", rd.name);
        if !names.insert(rd.name.clone()) {
            return Err(cx.err(at, format!("device name {:?} is used twice", rd.name)));
        }
        devices.push(Arc::new(device(
            &cx,
            rd,
            &at,
            &raw.defaults,
            interval,
            &profiles,
        )?));
    }
    Ok(Config {
        agent,
        spool,
        output,
        devices,
    })
}

fn device(
    cx: &Ctx<'_>,
    rd: &raw::Device,
    at: &str,
    defaults: &raw::Defaults,
    default_interval: Duration,
    profiles: &BTreeMap<String, Arc<Profile>>,
) -> Result<Device, ConfigError> {
    if rd.name.is_empty() {
        return Err(cx.err(at, "name must not be empty"));
    }
    if !valid_address(&rd.address) {
        return Err(cx.err(
            format!("{at}.address"),
            format!("{:?} is not an IPv4/IPv6 address or host name", rd.address),
        ));
    }
    let mut tags = defaults.tags.clone();
    tags.extend(rd.tags.clone());
    for k in tags.keys() {
        if RESERVED_TAGS.contains(&k.as_str()) {
            return Err(cx.err(
                format!("{at}.tags.{k}"),
                format!("tag {k:?} is set by the agent; choose another name"),
            ));
        }
    }
    let interval = rd.interval.map_or(default_interval, |d| d.0);
    if interval < Duration::from_secs(1) {
        return Err(cx.err(format!("{at}.interval"), "must be at least 1s"));
    }
    let jitter = defaults.jitter.map_or(interval / 10, |d| d.0.min(interval));
    let snmp = match &rd.snmp {
        None => None,
        Some(s) => Some(snmp(
            cx,
            &merge_snmp(defaults.snmp.as_ref(), s),
            &format!("{at}.snmp"),
        )?),
    };
    let profile_names = rd.profiles.clone().or_else(|| defaults.profiles.clone());
    let profiles = match (&snmp, profile_names) {
        (None, Some(p)) if !p.is_empty() && rd.profiles.is_some() => {
            return Err(cx.err(
                format!("{at}.profiles"),
                "profiles need an `snmp` section on the device",
            ));
        }
        (None, _) => vec![],
        (Some(_), names) => {
            let names = names.unwrap_or_else(|| vec!["system".into(), "if-mib".into()]);
            let mut out = Vec::new();
            for n in names {
                let p = profiles.get(&n).ok_or_else(|| {
                    cx.err(
                        format!("{at}.profiles"),
                        format!(
                            "unknown profile {n:?}; known: {}",
                            profiles.keys().cloned().collect::<Vec<_>>().join(", ")
                        ),
                    )
                })?;
                out.push(p.clone());
            }
            out
        }
    };
    let icmp = match &rd.icmp {
        None | Some(raw::IcmpSwitch::On(false)) => None,
        Some(raw::IcmpSwitch::On(true)) => Some(icmp(
            cx,
            defaults.icmp.as_ref(),
            None,
            &format!("{at}.icmp"),
        )?),
        Some(raw::IcmpSwitch::With(r)) => Some(icmp(
            cx,
            defaults.icmp.as_ref(),
            Some(r),
            &format!("{at}.icmp"),
        )?),
    };
    if snmp.is_none() && icmp.is_none() {
        return Err(cx.err(
            at,
            "device has neither `snmp` nor `icmp: true`; nothing to collect",
        ));
    }
    Ok(Device {
        name: rd.name.clone(),
        address: rd.address.clone(),
        tags,
        interval,
        jitter,
        snmp,
        profiles,
        icmp,
    })
}

fn merge_snmp(d: Option<&raw::Snmp>, s: &raw::Snmp) -> raw::Snmp {
    let Some(d) = d else { return s.clone() };
    let d = d.clone();
    raw::Snmp {
        version: s.version.clone().or(d.version),
        community: s.community.clone().or(d.community),
        user: s.user.clone().or(d.user),
        auth: s.auth.clone().or(d.auth),
        privacy: s.privacy.clone().or(d.privacy),
        context: s.context.clone().or(d.context),
        port: s.port.or(d.port),
        timeout: s.timeout.or(d.timeout),
        retries: s.retries.or(d.retries),
        max_repetitions: s.max_repetitions.or(d.max_repetitions),
    }
}

fn auth_protocol(s: &str) -> Option<AuthProtocol> {
    Some(match s.to_ascii_uppercase().replace('_', "-").as_str() {
        "MD5" => AuthProtocol::Md5,
        "SHA" | "SHA1" | "SHA-1" => AuthProtocol::Sha1,
        "SHA224" | "SHA-224" => AuthProtocol::Sha224,
        "SHA256" | "SHA-256" => AuthProtocol::Sha256,
        "SHA384" | "SHA-384" => AuthProtocol::Sha384,
        "SHA512" | "SHA-512" => AuthProtocol::Sha512,
        _ => return None,
    })
}

fn priv_protocol(s: &str) -> Option<PrivProtocol> {
    Some(match s.to_ascii_uppercase().replace('_', "-").as_str() {
        "DES" => PrivProtocol::Des,
        "AES" | "AES128" | "AES-128" => PrivProtocol::Aes128,
        "AES192" | "AES-192" => PrivProtocol::Aes192,
        "AES256" | "AES-256" => PrivProtocol::Aes256,
        _ => return None,
    })
}

fn snmp(cx: &Ctx<'_>, s: &raw::Snmp, at: &str) -> Result<SnmpSettings, ConfigError> {
    let version = s.version.as_deref().unwrap_or("2c");
    let credentials = match version {
        "2c" | "2" => {
            if s.user.is_some() || s.auth.is_some() || s.privacy.is_some() {
                return Err(cx.err(at, "user/auth/priv are SNMPv3 settings; set `version: 3`"));
            }
            let c = s.community.as_ref().ok_or_else(|| {
                cx.err(
                    format!("{at}.community"),
                    "SNMPv2c needs `community: {env: NAME}` or `{file: PATH}`",
                )
            })?;
            SnmpCredentials::V2c {
                community: c
                    .resolve()
                    .map_err(|e| cx.caused(format!("{at}.community"), &e))?,
            }
        }
        "3" => {
            if s.community.is_some() {
                return Err(cx.err(
                    format!("{at}.community"),
                    "SNMPv3 uses `user`, not a community",
                ));
            }
            let user = s
                .user
                .clone()
                .ok_or_else(|| cx.err(format!("{at}.user"), "SNMPv3 needs a user"))?;
            let auth = match &s.auth {
                None => None,
                Some(a) => Some((
                    auth_protocol(&a.protocol).ok_or_else(|| {
                        cx.err(
                            format!("{at}.auth.protocol"),
                            format!(
                                "{:?} is not one of MD5, SHA, SHA-224, SHA-256, SHA-384, SHA-512",
                                a.protocol
                            ),
                        )
                    })?,
                    a.password
                        .resolve()
                        .map_err(|e| cx.caused(format!("{at}.auth.password"), &e))?,
                )),
            };
            let privacy = match &s.privacy {
                None => None,
                Some(p) => Some((
                    priv_protocol(&p.protocol).ok_or_else(|| {
                        cx.err(
                            format!("{at}.priv.protocol"),
                            format!("{:?} is not one of DES, AES, AES-192, AES-256", p.protocol),
                        )
                    })?,
                    p.password
                        .resolve()
                        .map_err(|e| cx.caused(format!("{at}.priv.password"), &e))?,
                )),
            };
            if privacy.is_some() && auth.is_none() {
                return Err(cx.err(
                    format!("{at}.priv"),
                    "privacy needs authentication (`auth`) too",
                ));
            }
            for (what, secret) in [
                ("auth", auth.as_ref().map(|a| &a.1)),
                ("priv", privacy.as_ref().map(|p| &p.1)),
            ] {
                if secret.is_some_and(|s| s.expose().len() < 8) {
                    return Err(cx.err(
                        format!("{at}.{what}.password"),
                        "SNMPv3 passwords must be at least 8 characters",
                    ));
                }
            }
            SnmpCredentials::V3 {
                user,
                auth,
                privacy,
                context: s.context.clone().unwrap_or_default(),
            }
        }
        v => {
            return Err(cx.err(
                format!("{at}.version"),
                format!("{v:?} is not supported; use \"2c\" or \"3\""),
            ));
        }
    };
    let max_repetitions = s.max_repetitions.unwrap_or(25);
    if max_repetitions == 0 {
        return Err(cx.err(format!("{at}.max_repetitions"), "must be at least 1"));
    }
    Ok(SnmpSettings {
        credentials,
        port: s.port.unwrap_or(161),
        timeout: positive(
            cx,
            &format!("{at}.timeout"),
            s.timeout.map_or(Duration::from_secs(2), |d| d.0),
            "2s",
        )?,
        retries: s.retries.unwrap_or(1),
        max_repetitions,
    })
}

fn icmp(
    cx: &Ctx<'_>,
    d: Option<&raw::Icmp>,
    r: Option<&raw::Icmp>,
    at: &str,
) -> Result<IcmpSettings, ConfigError> {
    let pick = |f: fn(&raw::Icmp) -> Option<super::units::Dur>| {
        r.and_then(f).or_else(|| d.and_then(f)).map(|d| d.0)
    };
    let s = IcmpSettings {
        count: r
            .and_then(|r| r.count)
            .or_else(|| d.and_then(|d| d.count))
            .unwrap_or(4),
        interval: pick(|r| r.interval).unwrap_or(Duration::from_secs(1)),
        timeout: pick(|r| r.timeout).unwrap_or(Duration::from_secs(1)),
    };
    if s.count == 0 {
        return Err(cx.err(format!("{at}.count"), "must be at least 1"));
    }
    positive(cx, &format!("{at}.interval"), s.interval, "1s")?;
    positive(cx, &format!("{at}.timeout"), s.timeout, "1s")?;
    Ok(s)
}
