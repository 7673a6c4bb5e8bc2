//! ICMP echo with surge-ping. One socket per address family is shared by every target,
//! so thousands of hosts are pinged at once. Unprivileged ICMP (datagram) sockets are used
//! when `net.ipv4.ping_group_range` includes the process's group, raw sockets otherwise.
pub mod config;
mod socket;
mod stats;

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::time::{Duration, Instant};

use surge_ping::{Client, PingIdentifier, PingSequence, SurgeError};

pub use socket::SocketKind;
pub use stats::PingStats;

use self::config::IcmpSettings;
use crate::point::Point;
use crate::sources::Device;

#[derive(Debug, thiserror::Error)]
pub enum IcmpError {
    #[error(
        "cannot open an ICMPv{family} socket ({kind:?}): {source}; allow unprivileged ICMP with sysctl net.ipv4.ping_group_range or grant CAP_NET_RAW"
    )]
    Socket {
        family: u8,
        kind: SocketKind,
        source: std::io::Error,
    },
}

/// Sends echo requests for every device that has ICMP enabled.
pub struct Pinger {
    v4: Client,
    v6: Option<Client>,
    kind: SocketKind,
    /// Earliest time the next echo may be sent: requests are paced at `rate` per second so
    /// a burst of replies never overflows the socket's receive buffer (lost replies would be
    /// reported as packet loss).
    next_send: std::sync::Mutex<Instant>,
    gap: Duration,
}

/// Default echo requests per second, across all targets (`agent.icmp_rate`).
pub const DEFAULT_RATE: u32 = 5_000;

const PAYLOAD: [u8; 56] = [0x5a; 56];

impl Pinger {
    /// Opens the sockets; at most `rate` echo requests per second are sent.
    pub fn new(rate: u32) -> Result<Pinger, IcmpError> {
        let kind = socket::choose();
        let v4 = socket::client(false).map_err(|source| IcmpError::Socket {
            family: 4,
            kind,
            source,
        })?;
        // IPv6 may be disabled on the host; only IPv6 targets need it
        let v6 = socket::client(true).ok();
        tracing::info!(socket = ?kind, ipv6 = v6.is_some(), "ICMP sockets open");
        Ok(Pinger {
            v4,
            v6,
            kind,
            next_send: std::sync::Mutex::new(Instant::now()),
            gap: Duration::from_secs(1) / rate.max(1),
        })
    }

    pub fn kind(&self) -> SocketKind {
        self.kind
    }

    /// Reserves the next send slot and returns when it is due.
    fn slot(&self) -> Instant {
        let gap = self.gap;
        let mut next = self.next_send.lock().unwrap_or_else(|p| p.into_inner());
        let now = Instant::now();
        let at = (*next).max(now);
        *next = at + gap;
        at
    }

    /// Pings `address` `count` times, one echo every `interval`, each answered within
    /// `timeout` or counted as lost.
    pub async fn ping(&self, address: &str, s: &IcmpSettings) -> PingStats {
        let ip = match resolve(address).await {
            Some(ip) => ip,
            None => return PingStats::unresolved(),
        };
        let client = match (ip, &self.v6) {
            (IpAddr::V4(_), _) => &self.v4,
            (IpAddr::V6(_), Some(c)) => c,
            (IpAddr::V6(_), None) => return PingStats::error(s.count),
        };
        let ident = PingIdentifier(rand::random());
        let start = Instant::now();
        let mut rtts: Vec<Duration> = Vec::with_capacity(usize::from(s.count));
        let (mut sent, mut errors) = (0u32, 0u32);
        let mut tally = |r: Result<Option<Duration>, SurgeError>| match r {
            Ok(Some(rtt)) => {
                sent += 1;
                rtts.push(rtt);
            }
            Ok(None) => sent += 1,
            Err(e) => {
                errors += 1;
                tracing::debug!(%address, error = %e, "echo failed");
            }
        };
        if s.timeout <= s.interval {
            // an echo is answered or given up before the next is due: one at a time, so
            // a target costs one echo's state, not `count` of them (5,000 targets at once)
            for seq in 0..s.count {
                tally(
                    self.echo(
                        client,
                        ip,
                        ident,
                        seq,
                        start + s.interval * u32::from(seq),
                        s.timeout,
                    )
                    .await,
                );
            }
        } else {
            let echoes = (0..s.count).map(|seq| {
                self.echo(
                    client,
                    ip,
                    ident,
                    seq,
                    start + s.interval * u32::from(seq),
                    s.timeout,
                )
            });
            for r in futures::future::join_all(echoes).await {
                tally(r);
            }
        }
        PingStats::from_rtts(sent, &rtts, errors)
    }
}

impl Pinger {
    /// One echo request sent at `at` (or the next free send slot) and its reply, `None`
    /// when none came within `timeout`.
    async fn echo(
        &self,
        client: &Client,
        ip: IpAddr,
        ident: PingIdentifier,
        seq: u16,
        at: Instant,
        timeout: Duration,
    ) -> Result<Option<Duration>, SurgeError> {
        tokio::time::sleep_until(at.into()).await;
        let slot = self.slot();
        if slot > Instant::now() {
            tokio::time::sleep_until(slot.into()).await;
        }
        let mut pinger = client.pinger(ip, ident).await;
        pinger.timeout(timeout);
        // measured here: surge-ping starts its clock after the send returns, which can be
        // after a fast reply was already received (RTT 0)
        let sent = Instant::now();
        match pinger.ping(PingSequence(seq), &PAYLOAD).await {
            Ok(_) => Ok(Some(sent.elapsed())),
            Err(SurgeError::Timeout { .. }) => Ok(None),
            Err(e) => Err(e),
        }
    }
}

async fn resolve(address: &str) -> Option<IpAddr> {
    if let Ok(ip) = address.parse::<IpAddr>() {
        return Some(ip);
    }
    tokio::net::lookup_host((address, 0))
        .await
        .ok()?
        .next()
        .map(|a| a.ip())
}

/// The Telegraf-compatible `ping` point of one device.
pub fn point(device: &Device, stats: &PingStats, ts: i64) -> Point {
    let mut p = Point::new("ping", ts);
    let tags: BTreeMap<String, String> = device.tags.clone();
    p.with_tags(&tags);
    p.tag("device", device.name.clone());
    p.tag("url", device.address.clone());
    stats.fields_into(&mut p);
    p
}
