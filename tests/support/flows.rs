//! Connections pods really make, as the host's connection tracking sees them: `conntrack -E`
//! reports every new flow with its original tuple (what the pod sent to, e.g. a Service's
//! ClusterIP) and its reply tuple (who answered after kube-proxy's DNAT, e.g. the backend
//! pod). Pods on the real nodes route everything through the host, so every flow of a pod
//! appears here, ICMP echoes included.

use std::net::IpAddr;
use std::process::Stdio;
use std::sync::{Arc, Mutex};

use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

/// One new flow.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct ObservedFlow {
    /// `tcp`, `udp` or `icmp`.
    pub protocol: String,
    pub src: IpAddr,
    /// Where the packet was addressed (a ClusterIP for a Service).
    pub dst: IpAddr,
    /// Destination port (TCP/UDP); ICMP has none.
    pub dport: Option<u16>,
    /// ICMP type (8 = echo request).
    pub icmp_type: Option<u8>,
    /// Who answered: the reply tuple's source (the backend after DNAT).
    pub reply_src: IpAddr,
    pub reply_sport: Option<u16>,
}

impl ObservedFlow {
    /// The destination after DNAT: address and port of whoever really answered.
    pub fn real_dst(&self) -> (IpAddr, Option<u16>) {
        (self.reply_src, self.reply_sport.or(self.dport))
    }
}

#[derive(Debug, thiserror::Error)]
pub enum FlowError {
    #[error("cannot start `conntrack -E` (package conntrack; needs root)")]
    Start(#[source] std::io::Error),
}

/// Records new flows from the moment it starts until it is stopped or dropped.
pub struct FlowRecorder {
    child: Child,
    flows: Arc<Mutex<Vec<ObservedFlow>>>,
    task: tokio::task::JoinHandle<()>,
}

impl FlowRecorder {
    pub async fn start() -> Result<Self, FlowError> {
        let mut child = Command::new("conntrack")
            .args(["-E", "-e", "NEW", "-o", "extended"])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .map_err(FlowError::Start)?;
        let stdout = child
            .stdout
            .take()
            .ok_or_else(|| FlowError::Start(std::io::Error::other("no stdout")))?;
        let flows = Arc::new(Mutex::new(Vec::new()));
        let sink = flows.clone();
        let task = tokio::spawn(async move {
            let mut lines = BufReader::new(stdout).lines();
            while let Ok(Some(line)) = lines.next_line().await {
                if let Some(f) = parse(&line) {
                    sink.lock().unwrap_or_else(|p| p.into_inner()).push(f);
                }
            }
        });
        Ok(Self { child, flows, task })
    }

    /// Every flow so far.
    pub fn flows(&self) -> Vec<ObservedFlow> {
        self.flows.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// Stops recording and returns every flow seen.
    pub async fn stop(mut self) -> Vec<ObservedFlow> {
        let _ = self.child.kill().await;
        let _ = (&mut self.task).await;
        self.flows()
    }
}

/// Parses one `conntrack -E -o extended` line, e.g.
/// `[NEW] ipv4 2 tcp 6 120 SYN_SENT src=A dst=B sport=1 dport=2 [UNREPLIED] src=B dst=A sport=2 dport=1`.
pub fn parse(line: &str) -> Option<ObservedFlow> {
    let mut words = line.split_whitespace();
    let protocol = words
        .by_ref()
        .find(|w| matches!(*w, "tcp" | "udp" | "icmp"))?
        .to_owned();
    let mut kv: Vec<(&str, &str)> = Vec::new();
    for w in words {
        if let Some((k, v)) = w.split_once('=') {
            kv.push((k, v));
        }
    }
    // The first src/dst/sport/dport/type belong to the original tuple, the second to the reply.
    let nth = |key: &str, n: usize| kv.iter().filter(|(k, _)| *k == key).nth(n).map(|(_, v)| *v);
    Some(ObservedFlow {
        src: nth("src", 0)?.parse().ok()?,
        dst: nth("dst", 0)?.parse().ok()?,
        dport: nth("dport", 0).and_then(|p| p.parse().ok()),
        icmp_type: nth("type", 0).and_then(|t| t.parse().ok()),
        reply_src: nth("src", 1)?.parse().ok()?,
        reply_sport: nth("sport", 1).and_then(|p| p.parse().ok()),
        protocol,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_a_dnatted_tcp_flow() {
        let f = parse(
            "    [NEW] ipv4     2 tcp      6 120 SYN_SENT src=198.19.0.5 dst=10.96.12.7 sport=40000 dport=8086 [UNREPLIED] src=198.19.1.9 dst=198.19.0.5 sport=8086 dport=40000",
        )
        .expect("a flow");
        assert_eq!(f.protocol, "tcp");
        assert_eq!(f.dst.to_string(), "10.96.12.7");
        assert_eq!(f.dport, Some(8086));
        assert_eq!(
            f.real_dst(),
            ("198.19.1.9".parse().expect("ip"), Some(8086))
        );
    }

    #[test]
    fn parses_icmp_echo() {
        let f = parse(
            "[NEW] ipv4 2 icmp 1 30 src=198.19.0.5 dst=198.18.1.2 type=8 code=0 id=7 [UNREPLIED] src=198.18.1.2 dst=198.19.0.5 type=0 code=0 id=7",
        )
        .expect("a flow");
        assert_eq!(f.protocol, "icmp");
        assert_eq!(f.icmp_type, Some(8));
        assert_eq!(f.dport, None);
    }

    #[test]
    fn ignores_other_lines() {
        assert!(parse("conntrack v1.4.7 (conntrack-tools): 3 flow events").is_none());
    }
}
