use super::*;

fn ping(dev: &str, loss: f64, avg: Option<f64>) -> Point {
    let mut p = Point::new("ping", 0);
    p.tag("device", dev);
    p.field("percent_packet_loss", FieldValue::Float(loss));
    if let Some(a) = avg {
        p.field("average_response_ms", FieldValue::Float(a));
    }
    p
}

fn iface(dev: &str, idx: &str, alias: &str, oper: i64, admin: i64) -> Point {
    let mut p = Point::new("interface", 0);
    p.tag("device", dev)
        .tag("index", idx)
        .tag("ifName", format!("ge-0/0/{idx}"))
        .tag("ifAlias", alias);
    p.field("ifOperStatus", FieldValue::Int(oper));
    p.field("ifAdminStatus", FieldValue::Int(admin));
    p
}

fn rules_of(s: &[Signal]) -> Vec<String> {
    s.iter().map(|x| x.rule.clone()).collect()
}

#[test]
fn device_down_after_three_rounds_and_folds_the_rest() {
    let (rules, mut d, t) = (
        Rules::defaults(),
        DeviceRules::new("c1", None),
        Instant::now(),
    );
    for i in 0..2 {
        d.observe(&[ping("fw", 100.0, None)], t + Duration::from_secs(i));
    }
    d.snmp_poll("fw", false);
    assert!(
        !rules_of(&d.signals(&rules, t + Duration::from_secs(2)))
            .contains(&"DeviceDown".to_string())
    );
    d.observe(&[ping("fw", 100.0, None)], t + Duration::from_secs(3));
    d.snmp_poll("fw", false);
    d.snmp_poll("fw", false);
    let s = d.signals(&rules, t + Duration::from_secs(3));
    assert_eq!(rules_of(&s), vec!["DeviceDown", "SnmpUnreachable"]);
    assert_eq!(s[1].parents, vec![s[0].fingerprint.clone()]);
    d.observe(&[ping("fw", 0.0, Some(1.0))], t + Duration::from_secs(4));
    assert!(
        !rules_of(&d.signals(&rules, t + Duration::from_secs(4)))
            .contains(&"DeviceDown".to_string())
    );
}

#[test]
fn loss_and_latency_over_the_window() {
    let (rules, mut d, t) = (
        Rules::defaults(),
        DeviceRules::new("c1", None),
        Instant::now(),
    );
    d.observe(&[ping("r", 30.0, Some(150.0))], t);
    d.observe(&[ping("r", 20.0, Some(120.0))], t + Duration::from_secs(60));
    assert_eq!(
        rules_of(&d.signals(&rules, t + Duration::from_secs(60))),
        vec!["PacketLoss", "LatencyHigh"]
    );
    d.observe(&[ping("r", 0.0, Some(1.0))], t + Duration::from_secs(400));
    assert!(d.signals(&rules, t + Duration::from_secs(400)).is_empty());
}

#[test]
fn interface_down_only_from_up_while_admin_up_and_not_opted_out() {
    let (rules, mut d, t) = (
        Rules::defaults(),
        DeviceRules::new("c1", None),
        Instant::now(),
    );
    d.observe(
        &[
            iface("sw", "1", "uplink <!channel>", 1, 1),
            iface("sw", "2", "lab [noalert]", 1, 1),
            iface("sw", "3", "", 2, 1),
        ],
        t,
    );
    d.observe(
        &[
            iface("sw", "1", "uplink <!channel>", 2, 1),
            iface("sw", "2", "lab [noalert]", 2, 1),
            iface("sw", "3", "", 2, 1),
        ],
        t,
    );
    let s = d.signals(&rules, t);
    assert_eq!(rules_of(&s), vec!["InterfaceDown"]);
    assert!(s[0].fingerprint.ends_with("sw/1"));
    d.observe(&[iface("sw", "1", "", 2, 2)], t);
    assert!(d.signals(&rules, t).is_empty(), "admin down ends it");
}

#[test]
fn reboot_cpu_temperature_and_spool_overflow() {
    let (rules, mut d, t) = (
        Rules::defaults(),
        DeviceRules::new("c1", Some("acme".into())),
        Instant::now(),
    );
    let mut snmp = Point::new("snmp", 0);
    snmp.tag("device", "fw");
    snmp.field("uptime", FieldValue::Int(500_000));
    d.observe(&[snmp.clone()], t);
    snmp.field("uptime", FieldValue::Int(100));
    let mut hr = Point::new("host_resources", 0);
    hr.tag("device", "fw");
    hr.field("cpu_load_percent", FieldValue::Float(97.0));
    let mut temp = Point::new("entPhySensorTable", 0);
    temp.tag("device", "fw")
        .tag("sensor_type", "celsius")
        .tag("entPhysicalName", "CPU");
    temp.field("value", FieldValue::Float(81.5));
    d.observe(&[snmp, hr, temp], t);
    d.spool_overflow(1200, t);
    let s = d.signals(&rules, t);
    assert_eq!(
        rules_of(&s),
        vec![
            "DeviceRebooted",
            "CpuHigh",
            "TemperatureHigh",
            "SpoolOverflow"
        ]
    );
    assert!(s.iter().all(|x| x.scope.tenant.as_deref() == Some("acme")));
    let later = d.signals(&rules, t + Duration::from_secs(3600));
    assert_eq!(rules_of(&later), vec!["CpuHigh", "TemperatureHigh"]);
}

/// Per-device thresholds: the same 60 ms latency is high on a core router (50 ms by tag),
/// not on a branch router (tenant 100 ms), and not on the core router whose own entry
/// turns LatencyHigh off — device over tag over tenant.
#[test]
fn thresholds_by_tag_and_by_device_take_precedence() {
    let yaml = "
rules: {LatencyHigh: {threshold: 100}}
tag_rules:
  - {tags: {role: core}, rules: {LatencyHigh: {threshold: 50}}}
device_rules:
  quiet-core: {LatencyHigh: {enabled: false}}
";
    let layers: vigil_contract::alerts::Config = serde_norway::from_str(yaml).unwrap();
    let core = BTreeMap::from([("role".to_string(), "core".to_string())]);
    let own = |name: &str| Rules::new(&layers.rules_for(name, &core)).unwrap();
    let tenant = Rules::new(&layers.rules).unwrap();
    let mut d = DeviceRules::new("c1", None)
        .with_tags(BTreeMap::from([
            ("core".to_string(), core.clone()),
            ("quiet-core".to_string(), core.clone()),
            ("branch".to_string(), BTreeMap::new()),
        ]))
        .with_rules(BTreeMap::from([
            ("core".to_string(), own("core")),
            ("quiet-core".to_string(), own("quiet-core")),
        ]));
    let t = Instant::now();
    for dev in ["core", "quiet-core", "branch"] {
        d.observe(&[ping(dev, 0.0, Some(60.0))], t);
    }
    let s = d.signals(&tenant, t);
    let high: Vec<&str> = s
        .iter()
        .filter(|x| x.rule == "LatencyHigh")
        .filter_map(|x| x.scope.device.as_deref())
        .collect();
    assert_eq!(high, vec!["core"]);
}
