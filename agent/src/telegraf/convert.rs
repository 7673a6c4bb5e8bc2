//! The conversion itself, from a parsed TOML table to vigil's configuration, built with the
//! contract's types ([`raw`]) so that what is written is what the agent reads.
use std::collections::BTreeMap;
use std::time::Duration;

use toml::Value as T;

use super::Imported;
use crate::config::SecretRef;
use crate::config::raw;
use crate::config::units::{Dur, parse_duration};

fn s(v: Option<&T>) -> Option<String> {
    v.and_then(|v| v.as_str()).map(str::to_string)
}

/// A Telegraf duration (`"10s"`, seconds as a number) as vigil writes it; one vigil cannot
/// read (such as Go's `"1m30s"`) is reported and left to vigil's default.
fn duration(v: Option<&T>, at: &str, key: &str, warnings: &mut Vec<String>) -> Option<Dur> {
    let d = match v? {
        T::String(text) => parse_duration(text).map_err(|e| e.to_string()),
        T::Integer(i) => u64::try_from(*i)
            .map(Duration::from_secs)
            .map_err(|_| format!("{i} is negative")),
        T::Float(f) => Duration::try_from_secs_f64(*f).map_err(|e| format!("{f}: {e}")),
        other => Err(format!("{other} is not a duration")),
    };
    match d {
        Ok(d) => Some(Dur(d)),
        Err(e) => {
            warnings.push(format!("{at}: {key}: {e}; vigil's default is used"));
            None
        }
    }
}

/// A whole number in the range of `N`; one out of range is reported and left to the default.
fn number<N: TryFrom<i64>>(
    v: Option<&T>,
    at: &str,
    key: &str,
    warnings: &mut Vec<String>,
) -> Option<N> {
    let i = v?.as_integer()?;
    let n = N::try_from(i).ok();
    if n.is_none() {
        warnings.push(format!(
            "{at}: {key} = {i} is out of range; vigil's default is used"
        ));
    }
    n
}

/// `udp://10.0.0.1:161` -> ("10.0.0.1", Some(161)); a port that is not a number is reported
/// and left to vigil's default.
fn parse_agent(agent: &str, at: &str, warnings: &mut Vec<String>) -> (String, Option<u16>) {
    let a = agent.split_once("://").map_or(agent, |(_, r)| r);
    let (host, port) = if let Some(rest) = a.strip_prefix('[') {
        match rest.split_once("]:") {
            Some((host, port)) => (host, Some(port)),
            None => (rest.trim_end_matches(']'), None),
        }
    } else {
        match a.rsplit_once(':') {
            Some((h, p)) if !h.contains(':') => (h, Some(p)),
            _ => (a, None),
        }
    };
    let port = port.and_then(|p| match p.parse() {
        Ok(p) => Some(p),
        Err(e) => {
            warnings.push(format!(
                "{at}: agents: {agent:?} has port {p:?} ({e}); vigil's default 161 is used"
            ));
            None
        }
    });
    (host.to_string(), port)
}

fn env_name(prefix: &str, n: usize) -> String {
    format!("VIGIL_{prefix}_{n}")
}

const SNMP_KEYS: &[&str] = &[
    "agents",
    "version",
    "community",
    "timeout",
    "retries",
    "max_repetitions",
    "sec_name",
    "sec_level",
    "auth_protocol",
    "auth_password",
    "priv_protocol",
    "priv_password",
    "context_name",
    "name",
    "field",
    "table",
    "interval",
    "agent_host_tag",
];

const DEFAULT_URL: &str = "http://127.0.0.1:8086";

fn field(t: &toml::Table, at: &str, warnings: &mut Vec<String>) -> Option<raw::Field> {
    let oid = s(t.get("oid"))?;
    let mut out = raw::Field {
        name: s(t.get("name")),
        oid,
        tag: t.get("is_tag").and_then(T::as_bool) == Some(true),
        conversion: None,
    };
    if let Some(c) = s(t.get("conversion")) {
        if crate::sources::snmp::profile::Conversion::parse(&c).is_ok() {
            out.conversion = Some(c);
        } else {
            warnings.push(format!(
                "{at}: conversion {c:?} is not supported; the raw value is kept"
            ));
        }
    }
    for k in t.keys() {
        if !["oid", "name", "is_tag", "conversion"].contains(&k.as_str()) {
            warnings.push(format!("{at}: option {k:?} is not supported"));
        }
    }
    Some(out)
}

fn fields(v: Option<&T>, at: &str, warnings: &mut Vec<String>) -> Vec<raw::Field> {
    v.and_then(T::as_array)
        .into_iter()
        .flatten()
        .enumerate()
        .filter_map(|(i, f)| field(f.as_table()?, &format!("{at} field #{}", i + 1), warnings))
        .collect()
}

fn table(t: &toml::Table, at: &str, warnings: &mut Vec<String>) -> raw::Table {
    let out = raw::Table {
        name: s(t.get("name")),
        oid: s(t.get("oid")),
        inherit_tags: match t.get("inherit_tags") {
            Some(T::Array(inh)) => inh.iter().filter_map(T::as_str).map(String::from).collect(),
            _ => Vec::new(),
        },
        index_tag: (t.get("index_as_tag").and_then(T::as_bool) == Some(true))
            .then(|| "index".to_owned()),
        fields: fields(t.get("field"), at, warnings),
    };
    for k in t.keys() {
        if !["name", "oid", "inherit_tags", "index_as_tag", "field"].contains(&k.as_str()) {
            warnings.push(format!("{at}: option {k:?} is not supported"));
        }
    }
    out
}

/// The credentials and tunables of one `[[inputs.snmp]]` section (secrets as references).
fn snmp(sec: &toml::Table, n: usize, at: &str, imp: &mut Imported) -> raw::Snmp {
    let version = match sec.get("version").and_then(T::as_integer).unwrap_or(2) {
        3 => raw::SNMP_V3,
        1 => {
            imp.warnings
                .push(format!("{at}: SNMPv1 is not supported; converted as v2c"));
            raw::SNMP_V2C
        }
        _ => raw::SNMP_V2C,
    };
    let mut snmp = raw::Snmp {
        version: Some(version.to_owned()),
        ..raw::Snmp::default()
    };
    if version == raw::SNMP_V2C {
        let var = env_name("SNMP_COMMUNITY", n);
        snmp.community = Some(SecretRef::Env(var.clone()));
        imp.secrets.push(format!(
            "{var}: the community of {at} (`community` in the Telegraf file, default \"public\")"
        ));
    } else {
        snmp.user = Some(s(sec.get("sec_name")).unwrap_or_default());
        let level = s(sec.get("sec_level"))
            .unwrap_or_else(|| "authNoPriv".into())
            .to_ascii_lowercase();
        if level != "noauthnopriv" {
            let var = env_name("SNMP_AUTH_PASSWORD", n);
            snmp.auth = Some(raw::Auth {
                protocol: s(sec.get("auth_protocol")).unwrap_or_else(|| "MD5".into()),
                password: SecretRef::Env(var.clone()),
            });
            imp.secrets.push(format!("{var}: auth_password of {at}"));
        }
        if level == "authpriv" {
            let var = env_name("SNMP_PRIV_PASSWORD", n);
            snmp.privacy = Some(raw::Priv {
                protocol: s(sec.get("priv_protocol")).unwrap_or_else(|| "DES".into()),
                password: SecretRef::Env(var.clone()),
            });
            imp.secrets.push(format!("{var}: priv_password of {at}"));
        }
        snmp.context = s(sec.get("context_name"));
    }
    snmp.timeout = duration(sec.get("timeout"), at, "timeout", &mut imp.warnings);
    snmp.retries = number(sec.get("retries"), at, "retries", &mut imp.warnings);
    snmp.max_repetitions = number(
        sec.get("max_repetitions"),
        at,
        "max_repetitions",
        &mut imp.warnings,
    );
    snmp
}

/// The first `[[outputs.influxdb]]` or `[[outputs.influxdb_v2]]`.
fn output(root: &toml::Table, imp: &mut Imported) -> Option<raw::Output> {
    let outputs = root
        .get("outputs")
        .and_then(T::as_table)
        .cloned()
        .unwrap_or_default();
    let mut output = None;
    for (kind, secs) in &outputs {
        let first = secs
            .as_array()
            .and_then(|a| a.first())
            .and_then(T::as_table);
        let url = first
            .and_then(|t| t.get("urls"))
            .and_then(T::as_array)
            .and_then(|a| a.first())
            .and_then(T::as_str)
            .unwrap_or(DEFAULT_URL);
        match (kind.as_str(), first, output.is_none()) {
            ("influxdb_v2", Some(t), true) => {
                imp.secrets
                    .push("VIGIL_INFLUX_TOKEN: the token of [[outputs.influxdb_v2]]".into());
                let mut influx = raw::Influx::new(url);
                influx.v2 = Some(raw::InfluxV2 {
                    org: s(t.get("organization")).unwrap_or_default(),
                    bucket: s(t.get("bucket")).unwrap_or_default(),
                    token: SecretRef::Env("VIGIL_INFLUX_TOKEN".into()),
                });
                output = Some(raw::Output { influxdb: influx });
            }
            ("influxdb", Some(t), true) => {
                let username = s(t.get("username"));
                if username.is_some() {
                    imp.secrets
                        .push("VIGIL_INFLUX_PASSWORD: the password of [[outputs.influxdb]]".into());
                }
                let mut influx = raw::Influx::new(url);
                influx.v1 = Some(raw::InfluxV1 {
                    database: s(t.get("database")).unwrap_or_else(|| "telegraf".into()),
                    retention_policy: s(t.get("retention_policy")).filter(|r| !r.is_empty()),
                    password: username
                        .is_some()
                        .then(|| SecretRef::Env("VIGIL_INFLUX_PASSWORD".into())),
                    username,
                });
                output = Some(raw::Output { influxdb: influx });
            }
            _ => imp.warnings.push(format!(
                "[[outputs.{kind}]]: only the first influxdb or influxdb_v2 output is converted"
            )),
        }
    }
    output
}

pub fn convert(root: &toml::Table) -> Result<Imported, serde_norway::Error> {
    let mut imp = Imported::default();
    let mut cfg = raw::Config::default();

    if let Some(T::Table(agent)) = root.get("agent") {
        cfg.defaults.interval = duration(
            agent.get("interval"),
            "[agent]",
            "interval",
            &mut imp.warnings,
        );
    }
    let inputs = root
        .get("inputs")
        .and_then(T::as_table)
        .cloned()
        .unwrap_or_default();
    for kind in inputs.keys() {
        if kind != "snmp" && kind != "ping" {
            imp.warnings.push(format!(
                "[[inputs.{kind}]]: only inputs.snmp and inputs.ping are converted"
            ));
        }
    }
    let snmps = inputs
        .get("snmp")
        .and_then(T::as_array)
        .cloned()
        .unwrap_or_default();
    for (n, sec) in snmps.iter().enumerate() {
        let n = n + 1;
        let at = format!("[[inputs.snmp]] #{n}");
        let Some(sec) = sec.as_table() else { continue };
        for k in sec.keys() {
            if !SNMP_KEYS.contains(&k.as_str()) {
                imp.warnings
                    .push(format!("{at}: option {k:?} is not supported"));
            }
        }
        let profile_name = format!("telegraf-snmp-{n}");
        let measurement = s(sec.get("name")).unwrap_or_else(|| "snmp".into());
        let profile = raw::Profile {
            measurement: (measurement != "snmp").then_some(measurement),
            fields: fields(sec.get("field"), &at, &mut imp.warnings),
            tables: sec
                .get("table")
                .and_then(T::as_array)
                .into_iter()
                .flatten()
                .enumerate()
                .filter_map(|(i, tb)| {
                    let t = tb.as_table()?;
                    Some(table(
                        t,
                        &format!("{at} table #{}", i + 1),
                        &mut imp.warnings,
                    ))
                })
                .collect(),
        };
        let profiles = if profile == raw::Profile::default() {
            vec!["system".to_string()]
        } else {
            cfg.profiles.insert(profile_name.clone(), profile);
            vec![profile_name]
        };

        let snmp = snmp(sec, n, &at, &mut imp);
        let interval = duration(sec.get("interval"), &at, "interval", &mut imp.warnings);
        let agents: Vec<String> = sec
            .get("agents")
            .and_then(T::as_array)
            .into_iter()
            .flatten()
            .filter_map(|a| a.as_str().map(str::to_string))
            .collect();
        if agents.is_empty() {
            imp.warnings
                .push(format!("{at}: no agents; nothing to poll"));
        }
        for a in agents {
            let (host, port) = parse_agent(&a, &at, &mut imp.warnings);
            let mut device = raw::Device::new(host.clone(), host);
            device.interval = interval;
            device.snmp = Some(raw::Snmp {
                port: port.filter(|p| *p != 161),
                ..snmp.clone()
            });
            device.profiles = Some(profiles.clone());
            cfg.devices.push(device);
        }
    }

    let pings = inputs
        .get("ping")
        .and_then(T::as_array)
        .cloned()
        .unwrap_or_default();
    let mut icmp_defaults: Option<raw::Icmp> = None;
    for (n, sec) in pings.iter().enumerate() {
        let at = format!("[[inputs.ping]] #{}", n + 1);
        let Some(sec) = sec.as_table() else { continue };
        let icmp = raw::Icmp {
            count: number(sec.get("count"), &at, "count", &mut imp.warnings),
            interval: duration(
                sec.get("ping_interval"),
                &at,
                "ping_interval",
                &mut imp.warnings,
            ),
            timeout: duration(sec.get("timeout"), &at, "timeout", &mut imp.warnings),
        };
        for k in sec.keys() {
            if ![
                "urls",
                "count",
                "ping_interval",
                "timeout",
                "method",
                "interval",
            ]
            .contains(&k.as_str())
            {
                imp.warnings
                    .push(format!("{at}: option {k:?} is not supported"));
            }
        }
        let per_device = match &icmp_defaults {
            None => {
                icmp_defaults = Some(icmp.clone());
                None
            }
            Some(d) if *d == icmp => None,
            Some(_) => Some(icmp.clone()),
        };
        for u in sec
            .get("urls")
            .and_then(T::as_array)
            .into_iter()
            .flatten()
            .filter_map(T::as_str)
        {
            let setting = per_device
                .clone()
                .map_or(raw::IcmpSwitch::On(true), raw::IcmpSwitch::With);
            if let Some(d) = cfg.devices.iter_mut().find(|d| d.address == u) {
                d.icmp = Some(setting);
            } else {
                let mut d = raw::Device::new(u, u);
                d.icmp = Some(setting);
                cfg.devices.push(d);
            }
        }
    }
    cfg.defaults.icmp = icmp_defaults.filter(|d| !d.is_empty());
    cfg.output = output(root, &mut imp);

    // device names must be unique
    let mut seen: BTreeMap<String, usize> = BTreeMap::new();
    for d in &mut cfg.devices {
        let c = seen.entry(d.name.clone()).or_insert(0);
        *c += 1;
        if *c > 1 {
            d.name = format!("{}-{c}", d.name);
        }
    }
    imp.yaml = format!(
        "# converted from a Telegraf configuration by `vigil-agent import-telegraf`\n{}",
        serde_norway::to_string(&cfg)?
    );
    Ok(imp)
}
