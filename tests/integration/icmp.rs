//! ICMP test hosts in network namespaces.

use std::time::Duration;

use surge_ping::{Client, Config, ICMP, PingIdentifier, PingSequence};
use vigil_tests::require_sandbox;

#[tokio::test]
async fn echo_reaches_namespace_hosts() {
    let sandbox = require_sandbox!();
    let client = Client::new(&Config::builder().kind(ICMP::V4).build()).expect("an ICMP socket");

    let mut up = client
        .pinger(sandbox.icmp_host("up"), PingIdentifier(0x7601))
        .await;
    up.timeout(Duration::from_secs(2));
    // answered by the namespace's kernel; its round trip is not asserted, since a loaded CI
    // machine can delay any reply (the slow host's added delay is a floor, so that one is)
    up.ping(PingSequence(1), &[0; 16])
        .await
        .expect("the up host answers");

    let mut slow = client
        .pinger(sandbox.icmp_host("slow"), PingIdentifier(0x7602))
        .await;
    slow.timeout(Duration::from_secs(2));
    let (_, rtt) = slow
        .ping(PingSequence(1), &[0; 16])
        .await
        .expect("the slow host answers");
    assert!(
        rtt >= Duration::from_millis(50),
        "the slow host must add 50 ms, took {rtt:?}"
    );

    let mut down = client
        .pinger(sandbox.icmp_host("down"), PingIdentifier(0x7603))
        .await;
    down.timeout(Duration::from_millis(500));
    assert!(
        down.ping(PingSequence(1), &[0; 16]).await.is_err(),
        "the down host must never answer"
    );
}
