//! Every value the agent reports for its built-in profiles equals what net-snmp's
//! snmpbulkwalk returns for the same OIDs: snmpd (v2c, v3 authPriv SHA/AES and
//! SHA-256/AES-256) and snmpsim recordings of a router, a switch and firewalls.
use std::collections::BTreeMap;

use vigil_agent::point::{FieldValue, Point};

use crate::common::{TempDir, assert_schema, collect, config, secret};
use crate::netsnmp::{self, NetSnmp};

/// (measurement, field or tag name) -> numeric OID of the column or scalar.
fn oid_of(measurement: &str, name: &str) -> Option<&'static str> {
    Some(match (measurement, name) {
        ("snmp", "hostname") => ".1.3.6.1.2.1.1.5",
        ("snmp", "sysDescr") => ".1.3.6.1.2.1.1.1",
        ("snmp", "sysObjectID") => ".1.3.6.1.2.1.1.2",
        ("snmp", "uptime") => ".1.3.6.1.2.1.1.3",
        ("interface", "ifDescr") => ".1.3.6.1.2.1.2.2.1.2",
        ("interface", "ifAdminStatus") => ".1.3.6.1.2.1.2.2.1.7",
        ("interface", "ifInOctets") => ".1.3.6.1.2.1.2.2.1.10",
        ("interface", "ifOutOctets") => ".1.3.6.1.2.1.2.2.1.16",
        ("interface", "ifOperStatus") => ".1.3.6.1.2.1.2.2.1.8",
        ("interface", "ifInDiscards") => ".1.3.6.1.2.1.2.2.1.13",
        ("interface", "ifInErrors") => ".1.3.6.1.2.1.2.2.1.14",
        ("interface", "ifOutDiscards") => ".1.3.6.1.2.1.2.2.1.19",
        ("interface", "ifOutErrors") => ".1.3.6.1.2.1.2.2.1.20",
        ("interface", "ifName") => ".1.3.6.1.2.1.31.1.1.1.1",
        ("interface", "ifHCInOctets") => ".1.3.6.1.2.1.31.1.1.1.6",
        ("interface", "ifHCOutOctets") => ".1.3.6.1.2.1.31.1.1.1.10",
        ("interface", "ifHighSpeed") => ".1.3.6.1.2.1.31.1.1.1.15",
        ("interface", "ifAlias") => ".1.3.6.1.2.1.31.1.1.1.18",
        ("hrProcessorTable", "hrProcessorLoad") => ".1.3.6.1.2.1.25.3.3.1.2",
        ("hrStorageTable", "hrStorageType") => ".1.3.6.1.2.1.25.2.3.1.2",
        ("hrStorageTable", "hrStorageDescr") => ".1.3.6.1.2.1.25.2.3.1.3",
        ("hrStorageTable", "hrStorageAllocationUnits") => ".1.3.6.1.2.1.25.2.3.1.4",
        ("hrStorageTable", "hrStorageSize") => ".1.3.6.1.2.1.25.2.3.1.5",
        ("hrStorageTable", "hrStorageUsed") => ".1.3.6.1.2.1.25.2.3.1.6",
        ("entPhySensorTable", "entPhysicalName") => ".1.3.6.1.2.1.47.1.1.1.1.7",
        ("entPhySensorTable", "entPhySensorType") => ".1.3.6.1.2.1.99.1.1.1.1",
        ("entPhySensorTable", "entPhySensorScale") => ".1.3.6.1.2.1.99.1.1.1.2",
        ("entPhySensorTable", "entPhySensorPrecision") => ".1.3.6.1.2.1.99.1.1.1.3",
        ("entPhySensorTable", "entPhySensorValue") => ".1.3.6.1.2.1.99.1.1.1.4",
        ("entPhySensorTable", "entPhySensorOperStatus") => ".1.3.6.1.2.1.99.1.1.1.5",
        _ => return None,
    })
}

/// Subtrees to walk for the profiles used here.
const WALK: &[&str] = &[
    ".1.3.6.1.2.1.1",
    ".1.3.6.1.2.1.2.2.1",
    ".1.3.6.1.2.1.31.1.1.1",
    ".1.3.6.1.2.1.25.2.3.1",
    ".1.3.6.1.2.1.25.3.3.1",
    ".1.3.6.1.2.1.47.1.1.1.1.7",
    ".1.3.6.1.2.1.99.1.1.1",
];

type Walk = BTreeMap<String, NetSnmp>;

/// Compares every reported value with the walks taken just before and just after the
/// poll: strings must equal one of them, numbers must lie between them (counters and
/// uptime move on a live agent; on a recording both walks are identical).
/// Returns the number of values compared.
fn compare(points: &[Point], device: &str, before: &Walk, after: &Walk) -> usize {
    let mut compared = 0;
    for p in points
        .iter()
        .filter(|p| p.tags.get("device").map(String::as_str) == Some(device))
    {
        let suffix = match p.tags.get("index") {
            Some(i) => format!(".{i}"),
            None if p.measurement == "snmp" => ".0".to_string(),
            None => continue, // derived summary (host_resources)
        };
        let mut check = |name: &str, got: Option<&FieldValue>, got_tag: Option<&String>| {
            let Some(base) = oid_of(&p.measurement, name) else {
                return;
            };
            let oid = format!("{base}{suffix}");
            let (b, a) = (before.get(&oid), after.get(&oid));
            let want = b.or(a).unwrap_or_else(|| {
                panic!(
                    "{device}: {} {name} {oid} reported but net-snmp has no value",
                    p.measurement
                )
            });
            match (got, got_tag, want) {
                (Some(FieldValue::Int(v)), _, NetSnmp::Int(w)) => {
                    let w2 = match a {
                        Some(NetSnmp::Int(x)) => *x,
                        _ => *w,
                    };
                    let (lo, hi) = (w.min(&w2), w.max(&w2));
                    assert!(
                        (*lo..=*hi).contains(&i128::from(*v)),
                        "{device}: {} {name} {oid}: agent {v}, net-snmp {w}..{w2}",
                        p.measurement
                    );
                }
                (Some(FieldValue::Str(v)), _, w) | (None, Some(v), w) => {
                    let ok = w.text() == *v || a.is_some_and(|a| a.text() == *v);
                    assert!(
                        ok,
                        "{device}: {} {name} {oid}: agent {v:?}, net-snmp {:?}",
                        p.measurement,
                        w.text()
                    );
                }
                (g, t, w) => panic!(
                    "{device}: {} {name} {oid}: agent {g:?}/{t:?} vs net-snmp {w:?}",
                    p.measurement
                ),
            }
            compared += 1;
        };
        for (k, v) in &p.fields {
            check(k, Some(v), None);
        }
        for (k, v) in &p.tags {
            check(k, None, Some(v));
        }
    }
    compared
}

/// Every row net-snmp sees in `column` is reported as a point of `measurement`.
fn assert_rows_complete(
    points: &[Point],
    device: &str,
    measurement: &str,
    column: &str,
    walk: &Walk,
) {
    let mut want: Vec<String> = walk
        .keys()
        .filter_map(|k| k.strip_prefix(&format!("{column}.")))
        .map(str::to_string)
        .collect();
    let mut got: Vec<String> = points
        .iter()
        .filter(|p| {
            p.measurement == measurement && p.tags.get("device").map(String::as_str) == Some(device)
        })
        .filter_map(|p| p.tags.get("index").cloned())
        .collect();
    want.sort();
    got.sort();
    assert_eq!(got, want, "{device}: rows of {measurement}");
}

#[tokio::test]
async fn snmpsim_recordings_match_snmpbulkwalk_value_for_value() {
    let sb = vigil_tests::require_sandbox!();
    let dir = TempDir::new("snmpsim");
    let recordings = [
        ("router", "juniper-mx960-13-3r9-13"),
        ("switch", "cisco-c3560"),
        ("firewall", "paloalto-pa-5000"),
        ("firewall2", "fortinet-xcu"),
        // no ifXTable: 32-bit octet counters instead of the HC ones
        ("firewall3", "clavister-amaranten"),
    ];
    let mut yaml = String::from("devices:\n");
    for (name, community) in recordings {
        yaml.push_str(&format!(
            "  - name: {name}\n    address: {}\n    snmp: {{community: {}, port: {}, timeout: 3s, retries: 2}}\n    profiles: [system, if-mib, host-resources, entity-sensor]\n",
            sb.snmpsim.ip(),
            secret(&dir, name, community),
            sb.snmpsim.port()
        ));
    }
    let cfg = config(&dir, &yaml);
    let (points, errors) = collect(&cfg).await;
    assert!(errors.is_empty(), "{errors:?}");
    assert_schema(&points, &[]);
    for (name, community) in recordings {
        let walk = netsnmp::walk(&netsnmp::v2c(community), &sb.snmpsim.to_string(), WALK);
        let n = compare(&points, name, &walk, &walk);
        assert!(n > 50, "{name}: only {n} values compared");
        assert_rows_complete(&points, name, "interface", ".1.3.6.1.2.1.2.2.1.8", &walk);
        let sys = points
            .iter()
            .find(|p| p.measurement == "snmp" && p.tags["device"] == name)
            .unwrap();
        assert!(
            sys.tags.contains_key("hostname") && sys.fields.contains_key("uptime"),
            "{name}: {sys:?}"
        );
        let has = |f: &str| {
            points.iter().any(|p| {
                p.measurement == "interface" && p.tags["device"] == name && p.fields.contains_key(f)
            })
        };
        if name == "firewall3" {
            assert!(
                has("ifInOctets") && has("ifOutOctets") && !has("ifHCInOctets"),
                "32-bit fallback"
            );
        } else {
            assert!(has("ifHCInOctets"), "{name}: 64-bit counters");
        }
        // 32-bit counters only where a row has no 64-bit ones
        for p in points
            .iter()
            .filter(|p| p.measurement == "interface" && p.tags["device"] == name)
        {
            let both = p.fields.contains_key("ifInOctets") && p.fields.contains_key("ifHCInOctets");
            assert!(!both, "{p:?}");
        }
        eprintln!("{name} ({community}): {n} values equal to net-snmp");
    }
}

#[tokio::test]
async fn snmpd_v2c_values_match_net_snmp() {
    let sb = vigil_tests::require_sandbox!();
    let dir = TempDir::new("snmpd-v2c");
    let cfg = config(
        &dir,
        &format!(
            "devices:\n  - name: snmpd\n    address: {}\n    snmp: {{community: {}, port: {}}}\n    profiles: [system, if-mib, host-resources]\n",
            sb.snmpd.ip(),
            secret(&dir, "c", &sb.snmp_community),
            sb.snmpd.port()
        ),
    );
    let auth = netsnmp::v2c(&sb.snmp_community);
    let before = netsnmp::walk(&auth, &sb.snmpd.to_string(), WALK);
    let (points, errors) = collect(&cfg).await;
    let after = netsnmp::walk(&auth, &sb.snmpd.to_string(), WALK);
    assert!(errors.is_empty(), "{errors:?}");
    assert_schema(&points, &[]);
    let n = compare(&points, "snmpd", &before, &after);
    assert!(n > 20, "only {n} values compared");
    assert_rows_complete(
        &points,
        "snmpd",
        "interface",
        ".1.3.6.1.2.1.2.2.1.8",
        &before,
    );
    let hr = points
        .iter()
        .find(|p| p.measurement == "host_resources")
        .expect("host_resources summary");
    assert!(
        hr.fields.contains_key("cpu_load_percent") && hr.fields.contains_key("memory_used_percent"),
        "{hr:?}"
    );
}

async fn v3_system(
    user: &str,
    auth_proto: &str,
    priv_proto: &str,
    auth_pass: &str,
) -> (Vec<Point>, Vec<(String, String)>) {
    let sb = vigil_tests::sandbox().unwrap();
    let dir = TempDir::new("snmpd-v3");
    let cfg = config(
        &dir,
        &format!(
            "devices:\n  - name: v3\n    address: {}\n    snmp:\n      version: \"3\"\n      user: {user}\n      auth: {{protocol: {auth_proto}, password: {}}}\n      priv: {{protocol: {priv_proto}, password: {}}}\n      port: {}\n      timeout: 1s\n    profiles: [system]\n",
            sb.snmpd.ip(),
            secret(&dir, "a", auth_pass),
            secret(&dir, "p", &sb.snmpv3_priv_pass),
            sb.snmpd.port()
        ),
    );
    collect(&cfg).await
}

#[tokio::test]
async fn snmpd_v3_auth_priv_sha_aes_and_sha256_aes256() {
    let sb = vigil_tests::require_sandbox!();
    for (user, a, x, na, nx) in [
        (&sb.snmpv3_user, "SHA", "AES", "SHA", "AES"),
        (
            &sb.snmpv3_user_256,
            "SHA-256",
            "AES-256",
            "SHA-256",
            "AES-256",
        ),
    ] {
        let auth = netsnmp::v3(user, na, &sb.snmpv3_auth_pass, nx, &sb.snmpv3_priv_pass);
        let oids = [
            ".1.3.6.1.2.1.1.1.0",
            ".1.3.6.1.2.1.1.2.0",
            ".1.3.6.1.2.1.1.3.0",
            ".1.3.6.1.2.1.1.5.0",
        ];
        let before = netsnmp::get(&auth, &sb.snmpd.to_string(), &oids);
        let (points, errors) = v3_system(user, a, x, &sb.snmpv3_auth_pass).await;
        let after = netsnmp::get(&auth, &sb.snmpd.to_string(), &oids);
        assert!(errors.is_empty(), "{user}: {errors:?}");
        let n = compare(&points, "v3", &before, &after);
        assert_eq!(
            n, 4,
            "{user}: sysDescr, sysObjectID, uptime and hostname compared"
        );
        let p = &points[0];
        assert_eq!(p.tags["hostname"], "vigil-sandbox-snmpd");
        assert!(matches!(p.fields["uptime"], FieldValue::Int(u) if u > 0));
    }
}

#[tokio::test]
async fn wrong_v3_password_is_a_clear_authentication_error_not_data() {
    let sb = vigil_tests::require_sandbox!();
    let (points, errors) = v3_system(&sb.snmpv3_user, "SHA", "AES", "definitely-wrong-pass").await;
    assert!(points.is_empty(), "garbage reported: {points:?}");
    assert_eq!(errors.len(), 1);
    assert!(errors[0].1.contains("authentication failed"), "{errors:?}");
}
