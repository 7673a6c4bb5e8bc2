//! ICMP against the namespace hosts: kernel replies, +50 ms, exactly 30 % loss, and a host
//! that never answers (Telegraf's result_code 1 and 100 % loss).
use vigil_agent::point::{FieldValue, Point};

use crate::common::{TempDir, assert_schema, collect, config};

fn float(p: &Point, k: &str) -> f64 {
    match p.fields.get(k) {
        Some(FieldValue::Float(f)) => *f,
        other => panic!("{k}: {other:?} in {p:?}"),
    }
}

fn int(p: &Point, k: &str) -> i64 {
    match p.fields.get(k) {
        Some(FieldValue::Int(i)) => *i,
        other => panic!("{k}: {other:?} in {p:?}"),
    }
}

#[tokio::test]
async fn rtt_and_loss_of_the_namespace_hosts() {
    let sb = vigil_tests::require_sandbox!();
    let dir = TempDir::new("icmp");
    let mut yaml =
        String::from("defaults:\n  icmp: {count: 20, interval: 50ms, timeout: 1s}\ndevices:\n");
    for name in ["up", "slow", "lossy", "down"] {
        yaml.push_str(&format!(
            "  - {{name: {name}, address: {}, icmp: true, tags: {{role: test}}}}\n",
            sb.icmp_host(name)
        ));
    }
    let cfg = config(&dir, &yaml);
    let (points, _) = collect(&cfg).await;
    assert_schema(&points, &["role"]);
    let by = |name: &str| {
        points
            .iter()
            .find(|p| p.tags["device"] == name)
            .unwrap_or_else(|| panic!("no ping point for {name}"))
    };

    let up = by("up");
    assert_eq!(int(up, "result_code"), 0);
    assert_eq!(
        (int(up, "packets_transmitted"), int(up, "packets_received")),
        (20, 20)
    );
    assert!(float(up, "average_response_ms") < 10.0, "{up:?}");
    assert_eq!(up.tags["url"], sb.icmp_host("up").to_string());

    // +50 ms added by the responder: average within 50..65 ms, minimum at least 50 ms
    let slow = by("slow");
    let avg = float(slow, "average_response_ms");
    assert!((50.0..65.0).contains(&avg), "slow average {avg} ms");
    assert!(float(slow, "minimum_response_ms") >= 49.5, "{slow:?}");
    assert_eq!(float(slow, "percent_packet_loss"), 0.0);

    // exactly 3 of every 10 requests dropped; other tests may ping this host too, so
    // allow one request either way: 20 sent, 13..15 answered
    let lossy = by("lossy");
    let loss = float(lossy, "percent_packet_loss");
    assert!((25.0..=35.0).contains(&loss), "lossy loss {loss} %");
    assert_eq!(int(lossy, "result_code"), 0);

    let down = by("down");
    assert_eq!(int(down, "result_code"), 1, "Telegraf's code for no reply");
    assert_eq!(float(down, "percent_packet_loss"), 100.0);
    assert_eq!(int(down, "packets_received"), 0);
    assert!(!down.fields.contains_key("average_response_ms"));
}
