//! The conversion itself, from a parsed TOML table to vigil's YAML.
use std::collections::BTreeMap;

use serde_json::{Map, Value, json};
use toml::Value as T;

use super::Imported;

fn s(v: Option<&T>) -> Option<String> {
    v.and_then(|v| v.as_str()).map(str::to_string)
}

fn duration(v: Option<&T>) -> Option<String> {
    match v? {
        T::String(s) => Some(s.clone()),
        T::Integer(i) => Some(format!("{i}s")),
        T::Float(f) => Some(format!("{}ms", (f * 1000.0).round() as i64)),
        _ => None,
    }
}

/// `udp://10.0.0.1:161` -> ("10.0.0.1", Some(161))
fn parse_agent(a: &str) -> (String, Option<u16>) {
    let a = a.split_once("://").map_or(a, |(_, r)| r);
    if let Some(rest) = a.strip_prefix('[') {
        if let Some((host, port)) = rest.split_once("]:") {
            return (host.to_string(), port.parse().ok());
        }
        return (rest.trim_end_matches(']').to_string(), None);
    }
    match a.rsplit_once(':') {
        Some((h, p)) if !h.contains(':') => (h.to_string(), p.parse().ok()),
        _ => (a.to_string(), None),
    }
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

fn field(
    f: &Map<String, Value>,
    t: &toml::Table,
    at: &str,
    warnings: &mut Vec<String>,
) -> Option<Value> {
    let oid = s(t.get("oid"))?;
    let mut out = Map::new();
    if let Some(n) = s(t.get("name")) {
        out.insert("name".into(), json!(n));
    }
    out.insert("oid".into(), json!(oid));
    if t.get("is_tag").and_then(T::as_bool) == Some(true) {
        out.insert("tag".into(), json!(true));
    }
    if let Some(c) = s(t.get("conversion")) {
        if crate::sources::snmp::profile::Conversion::parse(&c).is_ok() {
            out.insert("conversion".into(), json!(c));
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
    let _ = f;
    Some(Value::Object(out))
}

pub fn convert(root: &toml::Table) -> Result<Imported, String> {
    let mut imp = Imported::default();
    let mut devices: Vec<Map<String, Value>> = Vec::new();
    let mut profiles = Map::new();
    let mut defaults = Map::new();
    let mut output = Value::Null;

    if let Some(T::Table(agent)) = root.get("agent")
        && let Some(i) = duration(agent.get("interval"))
    {
        defaults.insert("interval".into(), json!(i));
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
        let mut profile = Map::new();
        let measurement = s(sec.get("name")).unwrap_or_else(|| "snmp".into());
        if measurement != "snmp" {
            profile.insert("measurement".into(), json!(measurement));
        }
        let mut fields = Vec::new();
        for (i, f) in sec
            .get("field")
            .and_then(T::as_array)
            .into_iter()
            .flatten()
            .enumerate()
        {
            if let Some(t) = f.as_table()
                && let Some(v) = field(
                    &Map::new(),
                    t,
                    &format!("{at} field #{}", i + 1),
                    &mut imp.warnings,
                )
            {
                fields.push(v);
            }
        }
        let mut tables = Vec::new();
        for (i, tb) in sec
            .get("table")
            .and_then(T::as_array)
            .into_iter()
            .flatten()
            .enumerate()
        {
            let tat = format!("{at} table #{}", i + 1);
            let Some(t) = tb.as_table() else { continue };
            let mut out = Map::new();
            if let Some(name) = s(t.get("name")) {
                out.insert("name".into(), json!(name));
            }
            if let Some(oid) = s(t.get("oid")) {
                out.insert("oid".into(), json!(oid));
            }
            if let Some(T::Array(inh)) = t.get("inherit_tags") {
                out.insert(
                    "inherit_tags".into(),
                    json!(inh.iter().filter_map(T::as_str).collect::<Vec<_>>()),
                );
            }
            if t.get("index_as_tag").and_then(T::as_bool) == Some(true) {
                out.insert("index_tag".into(), json!("index"));
            }
            let mut tf = Vec::new();
            for (j, f) in t
                .get("field")
                .and_then(T::as_array)
                .into_iter()
                .flatten()
                .enumerate()
            {
                if let Some(ft) = f.as_table()
                    && let Some(v) = field(
                        &Map::new(),
                        ft,
                        &format!("{tat} field #{}", j + 1),
                        &mut imp.warnings,
                    )
                {
                    tf.push(v);
                }
            }
            if !tf.is_empty() {
                out.insert("fields".into(), Value::Array(tf));
            }
            for k in t.keys() {
                if !["name", "oid", "inherit_tags", "index_as_tag", "field"].contains(&k.as_str()) {
                    imp.warnings
                        .push(format!("{tat}: option {k:?} is not supported"));
                }
            }
            tables.push(Value::Object(out));
        }
        if !fields.is_empty() {
            profile.insert("fields".into(), Value::Array(fields));
        }
        if !tables.is_empty() {
            profile.insert("tables".into(), Value::Array(tables));
        }
        let has_profile = !profile.is_empty();
        if has_profile {
            profiles.insert(profile_name.clone(), Value::Object(profile));
        }

        // credentials
        let version = match sec.get("version").and_then(T::as_integer).unwrap_or(2) {
            3 => "3",
            1 => {
                imp.warnings
                    .push(format!("{at}: SNMPv1 is not supported; converted as v2c"));
                "2c"
            }
            _ => "2c",
        };
        let mut snmp = Map::new();
        snmp.insert("version".into(), json!(version));
        if version == "2c" {
            let var = env_name("SNMP_COMMUNITY", n);
            snmp.insert("community".into(), json!({"env": var}));
            imp.secrets.push(format!("{var}: the community of {at} (`community` in the Telegraf file, default \"public\")"));
        } else {
            snmp.insert(
                "user".into(),
                json!(s(sec.get("sec_name")).unwrap_or_default()),
            );
            let level = s(sec.get("sec_level"))
                .unwrap_or_else(|| "authNoPriv".into())
                .to_ascii_lowercase();
            if level != "noauthnopriv" {
                let var = env_name("SNMP_AUTH_PASSWORD", n);
                snmp.insert("auth".into(), json!({"protocol": s(sec.get("auth_protocol")).unwrap_or_else(|| "MD5".into()), "password": {"env": var}}));
                imp.secrets.push(format!("{var}: auth_password of {at}"));
            }
            if level == "authpriv" {
                let var = env_name("SNMP_PRIV_PASSWORD", n);
                snmp.insert("priv".into(), json!({"protocol": s(sec.get("priv_protocol")).unwrap_or_else(|| "DES".into()), "password": {"env": var}}));
                imp.secrets.push(format!("{var}: priv_password of {at}"));
            }
            if let Some(c) = s(sec.get("context_name")) {
                snmp.insert("context".into(), json!(c));
            }
        }
        if let Some(t) = duration(sec.get("timeout")) {
            snmp.insert("timeout".into(), json!(t));
        }
        if let Some(r) = sec.get("retries").and_then(T::as_integer) {
            snmp.insert("retries".into(), json!(r));
        }
        if let Some(r) = sec.get("max_repetitions").and_then(T::as_integer) {
            snmp.insert("max_repetitions".into(), json!(r));
        }
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
            let (host, port) = parse_agent(&a);
            let mut sn = snmp.clone();
            if let Some(p) = port.filter(|p| *p != 161) {
                sn.insert("port".into(), json!(p));
            }
            let mut d = Map::new();
            d.insert("name".into(), json!(host));
            d.insert("address".into(), json!(host));
            if let Some(i) = duration(sec.get("interval")) {
                d.insert("interval".into(), json!(i));
            }
            d.insert("snmp".into(), Value::Object(sn));
            d.insert(
                "profiles".into(),
                json!(if has_profile {
                    vec![profile_name.clone()]
                } else {
                    vec!["system".to_string()]
                }),
            );
            devices.push(d);
        }
    }

    let pings = inputs
        .get("ping")
        .and_then(T::as_array)
        .cloned()
        .unwrap_or_default();
    let mut icmp_defaults: Option<BTreeMap<String, Value>> = None;
    for (n, sec) in pings.iter().enumerate() {
        let at = format!("[[inputs.ping]] #{}", n + 1);
        let Some(sec) = sec.as_table() else { continue };
        let mut icmp = BTreeMap::new();
        if let Some(c) = sec.get("count").and_then(T::as_integer) {
            icmp.insert("count".to_string(), json!(c));
        }
        if let Some(i) = duration(sec.get("ping_interval")) {
            icmp.insert("interval".to_string(), json!(i));
        }
        if let Some(t) = duration(sec.get("timeout")) {
            icmp.insert("timeout".to_string(), json!(t));
        }
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
            let setting = per_device.as_ref().map_or(json!(true), |m| json!(m));
            if let Some(d) = devices
                .iter_mut()
                .find(|d| d.get("address") == Some(&json!(u)))
            {
                d.insert("icmp".into(), setting);
            } else {
                let mut d = Map::new();
                d.insert("name".into(), json!(u));
                d.insert("address".into(), json!(u));
                d.insert("icmp".into(), setting);
                devices.push(d);
            }
        }
    }
    if let Some(d) = icmp_defaults.filter(|d| !d.is_empty()) {
        defaults.insert("icmp".into(), json!(d));
    }

    // the InfluxDB output
    let outputs = root
        .get("outputs")
        .and_then(T::as_table)
        .cloned()
        .unwrap_or_default();
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
            .map(str::to_string);
        match (kind.as_str(), first, output.is_null()) {
            ("influxdb_v2", Some(t), true) => {
                imp.secrets
                    .push("VIGIL_INFLUX_TOKEN: the token of [[outputs.influxdb_v2]]".into());
                output = json!({"influxdb": {"url": url.unwrap_or_else(|| "http://127.0.0.1:8086".into()),
                    "v2": {"org": s(t.get("organization")).unwrap_or_default(), "bucket": s(t.get("bucket")).unwrap_or_default(), "token": {"env": "VIGIL_INFLUX_TOKEN"}}}});
            }
            ("influxdb", Some(t), true) => {
                let mut v1 = Map::new();
                v1.insert(
                    "database".into(),
                    json!(s(t.get("database")).unwrap_or_else(|| "telegraf".into())),
                );
                if let Some(rp) = s(t.get("retention_policy")).filter(|r| !r.is_empty()) {
                    v1.insert("retention_policy".into(), json!(rp));
                }
                if let Some(u) = s(t.get("username")) {
                    v1.insert("username".into(), json!(u));
                    v1.insert("password".into(), json!({"env": "VIGIL_INFLUX_PASSWORD"}));
                    imp.secrets
                        .push("VIGIL_INFLUX_PASSWORD: the password of [[outputs.influxdb]]".into());
                }
                output = json!({"influxdb": {"url": url.unwrap_or_else(|| "http://127.0.0.1:8086".into()), "v1": v1}});
            }
            _ => imp.warnings.push(format!(
                "[[outputs.{kind}]]: only the first influxdb or influxdb_v2 output is converted"
            )),
        }
    }

    // device names must be unique
    let mut seen: BTreeMap<String, usize> = BTreeMap::new();
    for d in &mut devices {
        let name = d
            .get("name")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string();
        let c = seen.entry(name.clone()).or_insert(0);
        *c += 1;
        if *c > 1 {
            d.insert("name".into(), json!(format!("{name}-{c}")));
        }
    }
    let mut cfg = Map::new();
    if !output.is_null() {
        cfg.insert("output".into(), output);
    }
    if !defaults.is_empty() {
        cfg.insert("defaults".into(), Value::Object(defaults));
    }
    if !profiles.is_empty() {
        cfg.insert("profiles".into(), Value::Object(profiles));
    }
    cfg.insert(
        "devices".into(),
        Value::Array(devices.into_iter().map(Value::Object).collect()),
    );
    imp.yaml = format!(
        "# converted from a Telegraf configuration by `vigil-agent import-telegraf`\n{}",
        serde_yaml::to_string(&Value::Object(cfg))
            .map_err(|e| format!("cannot render YAML: {e}"))?
    );
    Ok(imp)
}
