//! The device inventory the collector polls, and the CIDRs it may reach.

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::path::Path;

use ipnet::IpNet;
use serde::Serialize;

use super::{Checker, CredentialRef, DeviceName, Problem};
use crate::tenant::spec::{DeviceSpec, SnmpSpec};

/// The collector's built-in SNMP profiles (vigil-agent).
pub const PROFILES: &[&str] = &["system", "if-mib", "host-resources", "entity-sensor"];

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Device {
    pub name: DeviceName,
    pub address: IpAddr,
    pub tags: BTreeMap<String, String>,
    pub snmp: Option<Snmp>,
    pub profiles: Vec<String>,
    pub icmp: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase", tag = "version")]
pub enum Snmp {
    #[serde(rename = "v2c")]
    V2c { port: u16, community: CredentialRef },
    #[serde(rename = "v3", rename_all = "camelCase")]
    V3 {
        port: u16,
        user: String,
        auth: Option<(AuthProtocol, CredentialRef)>,
        #[serde(rename = "priv")]
        privacy: Option<(PrivProtocol, CredentialRef)>,
    },
}

impl Snmp {
    pub fn port(&self) -> u16 {
        match self {
            Self::V2c { port, .. } | Self::V3 { port, .. } => *port,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum AuthProtocol {
    #[serde(rename = "MD5")]
    Md5,
    #[serde(rename = "SHA")]
    Sha,
    #[serde(rename = "SHA-224")]
    Sha224,
    #[serde(rename = "SHA-256")]
    Sha256,
    #[serde(rename = "SHA-384")]
    Sha384,
    #[serde(rename = "SHA-512")]
    Sha512,
}

impl AuthProtocol {
    /// As vigil-agent reads it.
    pub fn as_str(self) -> &'static str {
        match self {
            AuthProtocol::Md5 => "MD5",
            AuthProtocol::Sha => "SHA",
            AuthProtocol::Sha224 => "SHA-224",
            AuthProtocol::Sha256 => "SHA-256",
            AuthProtocol::Sha384 => "SHA-384",
            AuthProtocol::Sha512 => "SHA-512",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum PrivProtocol {
    #[serde(rename = "DES")]
    Des,
    #[serde(rename = "AES")]
    Aes,
    #[serde(rename = "AES-192")]
    Aes192,
    #[serde(rename = "AES-256")]
    Aes256,
}

impl PrivProtocol {
    /// As vigil-agent reads it.
    pub fn as_str(self) -> &'static str {
        match self {
            PrivProtocol::Des => "DES",
            PrivProtocol::Aes => "AES",
            PrivProtocol::Aes192 => "AES-192",
            PrivProtocol::Aes256 => "AES-256",
        }
    }
}

/// InfluxDB tag keys and values; `device`, `tenant`, `agent` and `host` are set by vigil.
pub(super) fn tag_problem(path: &str, k: &str, v: &str) -> Option<Problem> {
    let ok = |s: &str| {
        !s.is_empty()
            && s.len() <= 63
            && s.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"-_.:/".contains(&b))
    };
    if ["device", "tenant", "agent", "host"].contains(&k) {
        return Some(Problem::new(
            path,
            format!("tag {k:?} is set by vigil"),
            "choose another tag name, e.g. \"site\" or \"role\"",
        ));
    }
    (!ok(k) || !ok(v)).then(|| {
        Problem::new(
            path,
            format!("tag {k}={v:?} is empty, longer than 63 characters or has spaces or symbols"),
            "use letters, digits, '-', '_', '.', ':' and '/', e.g. site: paris",
        )
    })
}

/// The CIDRs of the list at `path` (e.g. `spec.deviceCidrs`), each its network address.
pub(super) fn cidrs(c: &mut Checker, path: &str, raw: &[String]) -> Vec<IpNet> {
    raw.iter()
        .enumerate()
        .filter_map(|(i, s)| match s.parse::<IpNet>() {
            Ok(net) if net.trunc() == net => Some(net),
            Ok(net) => {
                c.push(Problem::new(
                    &format!("{path}[{i}]"),
                    format!("{s:?} has host bits set"),
                    format!(
                        "write the network address, e.g. {:?}",
                        net.trunc().to_string()
                    ),
                ));
                None
            }
            Err(_) => {
                c.push(Problem::new(
                    &format!("{path}[{i}]"),
                    format!("{s:?} is not a CIDR"),
                    "write an address and a prefix length, e.g. \"10.20.0.0/16\"",
                ));
                None
            }
        })
        .collect()
}

/// Ranges no device lives in: loopback, link-local (cloud metadata among them) and
/// "this network".
const INTERNAL: &[(&str, &str)] = &[
    ("127.0.0.0/8", "loopback"),
    ("::1/128", "loopback"),
    (
        "169.254.0.0/16",
        "link-local (cloud metadata services live here)",
    ),
    ("fe80::/10", "link-local"),
    ("0.0.0.0/8", "\"this network\""),
];

/// A device CIDR that covers much of the address space, or reaches into loopback or
/// link-local ranges, would let the collector reach far more than the tenant's devices.
pub(super) fn not_broad(c: &mut Checker, path: &str, cidrs: &[IpNet]) {
    let fix = "list the device networks themselves (e.g. \"10.20.0.0/16\"), or pass \
               --allow-broad-cidrs if this is really meant";
    for (i, net) in cidrs.iter().enumerate() {
        let at = format!("{path}[{i}]");
        let min = if net.addr().is_ipv4() { 8 } else { 16 };
        if net.prefix_len() < min {
            c.push(Problem::new(
                &at,
                format!(
                    "{net} is too broad: the collector could reach almost anything (shortest allowed prefix /{min})"
                ),
                fix,
            ));
            continue;
        }
        for (range, what) in INTERNAL {
            let Ok(range) = range.parse::<IpNet>() else {
                continue;
            };
            if net.contains(&range) || range.contains(net) {
                c.push(Problem::new(
                    &at,
                    format!("{net} overlaps {range}, which is {what}"),
                    fix,
                ));
            }
        }
    }
}

pub(super) fn devices(
    c: &mut Checker,
    raw: &[DeviceSpec],
    cidrs: &[IpNet],
    base: &Path,
) -> Vec<Device> {
    let mut by_name: BTreeMap<&str, usize> = BTreeMap::new();
    let mut by_target: BTreeMap<(IpAddr, u16), usize> = BTreeMap::new();
    let mut out = Vec::new();
    for (i, d) in raw.iter().enumerate() {
        let path = format!("spec.devices[{i}]");
        if let Some(first) = by_name.insert(&d.name, i) {
            c.push(Problem::new(
                &format!("{path}.name"),
                format!(
                    "duplicate device name {:?} (also spec.devices[{first}])",
                    d.name
                ),
                "give every device a unique name",
            ));
        }
        let name = c.check(DeviceName::parse(&format!("{path}.name"), &d.name));
        let address = match d.address.parse::<IpAddr>() {
            Ok(a) => Some(a),
            Err(_) => {
                c.push(Problem::new(
                    &format!("{path}.address"),
                    format!("{:?} is not an IP address", d.address),
                    "write an IPv4 or IPv6 address such as \"10.20.0.1\" (host names are not resolved by the collector)",
                ));
                None
            }
        };
        if let Some(a) = address
            && !cidrs.is_empty()
            && !cidrs.iter().any(|n| n.contains(&a))
        {
            c.push(Problem::new(
                &format!("{path}.address"),
                format!("{a} is outside every spec.deviceCidrs entry, so the network policy would block it"),
                "add its network to spec.deviceCidrs or fix the address",
            ));
        }
        for (k, v) in &d.tags {
            if let Some(p) = tag_problem(&format!("{path}.tags.{k}"), k, v) {
                c.push(p);
            }
        }
        for (j, profile) in d.profiles.iter().enumerate() {
            if !PROFILES.contains(&profile.as_str()) {
                c.push(Problem::new(
                    &format!("{path}.profiles[{j}]"),
                    format!("unknown collector profile {profile:?}"),
                    format!("use one of {}", PROFILES.join(", ")),
                ));
            }
        }
        if !d.profiles.is_empty() && d.snmp.is_none() {
            c.push(Problem::new(
                &format!("{path}.profiles"),
                "profiles are SNMP profiles, and this device has no snmp section",
                "add an snmp section or remove profiles",
            ));
        }
        let snmp = d
            .snmp
            .as_ref()
            .and_then(|s| snmp(c, &format!("{path}.snmp"), s, base));
        let icmp = d.icmp.unwrap_or(true);
        if d.snmp.is_none() && !icmp {
            c.push(Problem::new(
                &path,
                format!(
                    "device {:?} has neither snmp nor icmp, so nothing would be polled",
                    d.name
                ),
                "add an snmp section or set icmp: true",
            ));
        }
        let port = snmp.as_ref().map_or(161, Snmp::port);
        if let Some(a) = address
            && let Some(first) = by_target.insert((a, port), i)
        {
            c.push(Problem::new(
                &format!("{path}.address"),
                format!("{a} port {port} is already polled as spec.devices[{first}]"),
                "list every device once; use tags to group it",
            ));
        }
        if let (Some(name), Some(address)) = (name, address) {
            out.push(Device {
                name,
                address,
                tags: d.tags.clone(),
                snmp,
                profiles: d.profiles.clone(),
                icmp,
            });
        }
    }
    out
}

fn snmp(c: &mut Checker, path: &str, s: &SnmpSpec, base: &Path) -> Option<Snmp> {
    let port = s.port.unwrap_or(161);
    if port == 0 {
        c.push(Problem::new(
            &format!("{path}.port"),
            "port 0 is not a valid UDP port",
            "omit it for 161 or give 1-65535",
        ));
    }
    match s.version.to_ascii_lowercase().as_str() {
        "v2c" | "2c" => {
            for (field, set) in [
                ("user", s.user.is_some()),
                ("auth", s.auth.is_some()),
                ("priv", s.privacy.is_some()),
            ] {
                if set {
                    c.push(Problem::new(
                        &format!("{path}.{field}"),
                        format!("{field} only applies to SNMP v3"),
                        "remove it, or set version: v3",
                    ));
                }
            }
            let Some(community) = &s.community else {
                c.push(Problem::new(
                    &format!("{path}.community"),
                    "SNMP v2c needs a community",
                    "add community: {env: VARIABLE} or {file: PATH}",
                ));
                return None;
            };
            let community = c.check(CredentialRef::parse(
                &format!("{path}.community"),
                community,
                base,
            ))?;
            Some(Snmp::V2c { port, community })
        }
        "v3" | "3" => {
            if s.community.is_some() {
                c.push(Problem::new(
                    &format!("{path}.community"),
                    "community only applies to SNMP v2c",
                    "remove it, or set version: v2c",
                ));
            }
            let user = match s.user.as_deref() {
                Some(u)
                    if !u.is_empty() && u.len() <= 32 && !u.chars().any(char::is_whitespace) =>
                {
                    Some(u.to_owned())
                }
                _ => {
                    c.push(Problem::new(
                        &format!("{path}.user"),
                        "SNMP v3 needs a user name (1-32 characters, no spaces)",
                        "add user: NAME",
                    ));
                    None
                }
            };
            let auth = s.auth.as_ref().and_then(|a| {
                let proto = auth_protocol(c, &format!("{path}.auth.protocol"), &a.protocol);
                let pass = c.check(CredentialRef::parse(
                    &format!("{path}.auth.password"),
                    &a.password,
                    base,
                ));
                proto.zip(pass)
            });
            let privacy = s.privacy.as_ref().and_then(|p| {
                if s.auth.is_none() {
                    c.push(Problem::new(
                        &format!("{path}.priv"),
                        "privacy (priv) needs authentication",
                        "add auth: {protocol: SHA-256, password: {env: VARIABLE}}",
                    ));
                    return None;
                }
                let proto = priv_protocol(c, &format!("{path}.priv.protocol"), &p.protocol);
                let pass = c.check(CredentialRef::parse(
                    &format!("{path}.priv.password"),
                    &p.password,
                    base,
                ));
                proto.zip(pass)
            });
            Some(Snmp::V3 {
                port,
                user: user?,
                auth,
                privacy,
            })
        }
        other => {
            c.push(Problem::new(
                &format!("{path}.version"),
                format!("unsupported SNMP version {other:?}"),
                "use v2c or v3",
            ));
            None
        }
    }
}

fn normalise(raw: &str) -> String {
    raw.to_ascii_uppercase().replace(['-', '_'], "")
}

fn auth_protocol(c: &mut Checker, path: &str, raw: &str) -> Option<AuthProtocol> {
    let p = match normalise(raw).as_str() {
        "MD5" => AuthProtocol::Md5,
        "SHA" | "SHA1" => AuthProtocol::Sha,
        "SHA224" => AuthProtocol::Sha224,
        "SHA256" => AuthProtocol::Sha256,
        "SHA384" => AuthProtocol::Sha384,
        "SHA512" => AuthProtocol::Sha512,
        _ => {
            c.push(Problem::new(
                path,
                format!("unknown authentication protocol {raw:?}"),
                "use MD5, SHA, SHA-224, SHA-256, SHA-384 or SHA-512",
            ));
            return None;
        }
    };
    Some(p)
}

fn priv_protocol(c: &mut Checker, path: &str, raw: &str) -> Option<PrivProtocol> {
    let p = match normalise(raw).as_str() {
        "DES" => PrivProtocol::Des,
        "AES" | "AES128" => PrivProtocol::Aes,
        "AES192" => PrivProtocol::Aes192,
        "AES256" => PrivProtocol::Aes256,
        _ => {
            c.push(Problem::new(
                path,
                format!("unknown privacy protocol {raw:?}"),
                "use DES, AES, AES-192 or AES-256",
            ));
            return None;
        }
    };
    Some(p)
}
