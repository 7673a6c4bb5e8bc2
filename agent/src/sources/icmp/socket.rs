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
        let ids = if let Some(rest) = line.strip_prefix("Gid:") {
            // real, effective, saved, filesystem
            rest.split_whitespace().nth(1).into_iter().collect()
        } else if let Some(rest) = line.strip_prefix("Groups:") {
            rest.split_whitespace().collect()
        } else {
            Vec::new()
        };
        for g in ids {
            match g.parse::<u32>() {
                Ok(g) => out.push(g),
                Err(error) => {
                    tracing::warn!(line, group = g, %error, "a group in /proc/self/status does not parse; ignored when choosing the ICMP socket")
                }
            }
        }
    }
    out
}

/// Whether `net.ipv4.ping_group_range` admits one of our groups.
pub fn datagram_allowed() -> bool {
    let Ok(range) = std::fs::read_to_string("/proc/sys/net/ipv4/ping_group_range") else {
        return false;
    };
    let words: Vec<&str> = range.split_whitespace().collect();
    let numbers: Vec<u64> = words.iter().filter_map(|v| v.parse().ok()).collect();
    let (Some(&lo), Some(&hi)) = (numbers.first(), numbers.get(1)) else {
        tracing::warn!(
            ping_group_range = range.trim(),
            "net.ipv4.ping_group_range does not parse as two numbers; using raw ICMP sockets"
        );
        return false;
    };
    if numbers.len() != words.len() {
        tracing::warn!(
            ping_group_range = range.trim(),
            lo,
            hi,
            "net.ipv4.ping_group_range has parts that do not parse; they are skipped"
        );
    }
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
