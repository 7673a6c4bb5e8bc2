//! Which kind of ICMP socket this process may open.
use surge_ping::{Client, Config, ICMP};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SocketKind {
    /// Unprivileged `SOCK_DGRAM` ICMP socket (Linux ping sockets).
    Datagram,
    /// `SOCK_RAW`, needs root or CAP_NET_RAW.
    Raw,
}

/// The process's groups (effective gid and supplementary groups) from /proc.
fn groups() -> Vec<u32> {
    let Ok(status) = std::fs::read_to_string("/proc/self/status") else {
        return vec![];
    };
    let mut out = Vec::new();
    for line in status.lines() {
        if let Some(rest) = line.strip_prefix("Gid:") {
            // real, effective, saved, filesystem
            if let Some(e) = rest.split_whitespace().nth(1).and_then(|g| g.parse().ok()) {
                out.push(e);
            }
        } else if let Some(rest) = line.strip_prefix("Groups:") {
            out.extend(
                rest.split_whitespace()
                    .filter_map(|g| g.parse::<u32>().ok()),
            );
        }
    }
    out
}

/// Whether `net.ipv4.ping_group_range` admits one of our groups.
pub fn datagram_allowed() -> bool {
    let Ok(range) = std::fs::read_to_string("/proc/sys/net/ipv4/ping_group_range") else {
        return false;
    };
    let mut it = range
        .split_whitespace()
        .filter_map(|v| v.parse::<u64>().ok());
    let (Some(lo), Some(hi)) = (it.next(), it.next()) else {
        return false;
    };
    groups()
        .into_iter()
        .any(|g| (lo..=hi).contains(&u64::from(g)))
}

pub fn choose() -> SocketKind {
    if datagram_allowed() {
        SocketKind::Datagram
    } else {
        SocketKind::Raw
    }
}

/// Opens the shared client. surge-ping tries a datagram socket first and falls back to a
/// raw one, which is the same order as [`choose`].
pub fn client(v6: bool) -> std::io::Result<Client> {
    let config = Config::builder()
        .kind(if v6 { ICMP::V6 } else { ICMP::V4 })
        .build();
    Client::new(&config)
}
