//! Ground truth: net-snmp's `snmpbulkwalk`/`snmpget`, parsed into numeric OID -> value.
use std::collections::BTreeMap;
use std::process::Command;

/// A value as net-snmp prints it with `-On -Oe -Ot -Ox`.
#[derive(Debug, Clone, PartialEq)]
pub enum NetSnmp {
    Int(i128),
    Bytes(Vec<u8>),
    Oid(String),
    Other(String),
}

impl NetSnmp {
    /// The text the agent reports for a string: UTF-8 (lossy) without a trailing NUL.
    pub fn text(&self) -> String {
        match self {
            NetSnmp::Bytes(b) => {
                let b = b.strip_suffix(&[0]).unwrap_or(b);
                String::from_utf8_lossy(b).into_owned()
            }
            NetSnmp::Oid(o) => o.clone(),
            NetSnmp::Int(i) => i.to_string(),
            NetSnmp::Other(s) => s.clone(),
        }
    }
}

fn parse(out: &str) -> BTreeMap<String, NetSnmp> {
    let mut map = BTreeMap::new();
    let mut last: Option<String> = None;
    for line in out.lines() {
        if let Some((oid, rest)) = line.split_once(" = ").filter(|(o, _)| o.starts_with('.')) {
            let (ty, val) = rest.split_once(": ").unwrap_or((rest, ""));
            let v = match ty {
                "INTEGER" | "Counter32" | "Counter64" | "Gauge32" | "Timeticks" | "Unsigned32" => {
                    NetSnmp::Int(
                        val.trim()
                            .parse()
                            .unwrap_or_else(|_| panic!("number in {line:?}")),
                    )
                }
                "Hex-STRING" => NetSnmp::Bytes(hex(val)),
                "STRING" => NetSnmp::Bytes(val.trim_matches('"').as_bytes().to_vec()),
                "OID" => NetSnmp::Oid(val.trim().to_string()),
                _ if rest.trim() == "\"\"" => NetSnmp::Bytes(vec![]),
                // -Ot prints Timeticks as a bare number
                _ if rest.trim().parse::<i128>().is_ok() => {
                    NetSnmp::Int(rest.trim().parse().unwrap_or_default())
                }
                _ => NetSnmp::Other(rest.to_string()),
            };
            map.insert(oid.to_string(), v);
            last = Some(oid.to_string());
        } else if let Some(oid) = &last {
            // continuation of a long Hex-STRING
            if let Some(NetSnmp::Bytes(b)) = map.get_mut(oid) {
                b.extend(hex(line));
            }
        }
    }
    map
}

fn hex(s: &str) -> Vec<u8> {
    s.split_whitespace()
        .filter_map(|h| u8::from_str_radix(h, 16).ok())
        .collect()
}

fn run(tool: &str, auth: &[String], target: &str, oids: &[&str]) -> BTreeMap<String, NetSnmp> {
    let mut all = BTreeMap::new();
    for oid in oids {
        let mut c = Command::new(tool);
        c.args(auth)
            .args(["-On", "-Oe", "-Ot", "-Ox", "-t", "3", "-r", "2"]);
        if tool == "snmpbulkwalk" {
            c.arg("-Cr25");
        }
        let out = c.arg(target).arg(oid).output().unwrap();
        assert!(
            out.status.success(),
            "{tool} {oid}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        all.extend(parse(&String::from_utf8_lossy(&out.stdout)));
    }
    all
}

pub fn v2c(community: &str) -> Vec<String> {
    vec!["-v2c".into(), "-c".into(), community.into()]
}

pub fn v3(
    user: &str,
    auth_proto: &str,
    auth: &str,
    priv_proto: &str,
    privacy: &str,
) -> Vec<String> {
    [
        "-v3", "-l", "authPriv", "-u", user, "-a", auth_proto, "-A", auth, "-x", priv_proto, "-X",
        privacy,
    ]
    .iter()
    .map(|s| s.to_string())
    .collect()
}

pub fn walk(auth: &[String], target: &str, oids: &[&str]) -> BTreeMap<String, NetSnmp> {
    run("snmpbulkwalk", auth, target, oids)
}

pub fn get(auth: &[String], target: &str, oids: &[&str]) -> BTreeMap<String, NetSnmp> {
    run("snmpget", auth, target, oids)
}
