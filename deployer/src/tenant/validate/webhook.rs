//! Where a Slack webhook posts: the host and port of its URL, which the collector's network
//! policies must allow. The host is not secret; the path is (it carries the token) and never
//! leaves [`WebhookEndpoint::from_url`]: not in a policy, a label, a log or an error.

use std::fmt;
use std::net::IpAddr;
use std::str::FromStr;

/// Slack's incoming webhooks: what the policies allow when the webhook URLs are not known
/// (`vigil tenant render` without the credentials).
pub const DEFAULT_WEBHOOK_HOST: &str = "hooks.slack.com";
pub const DEFAULT_WEBHOOK_PORT: u16 = 443;

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum WebhookHost {
    /// A DNS name, lower case, without a trailing dot.
    Name(String),
    /// An address literal (`https://192.0.2.7/…`, `https://[2001:db8::7]/…`).
    Ip(IpAddr),
}

/// The host and port a webhook URL posts to.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct WebhookEndpoint {
    pub host: WebhookHost,
    pub port: u16,
}

/// Why a webhook value is not a usable URL. Never quotes the value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WebhookUrlError {
    #[error("is not an http:// or https:// URL")]
    Scheme,
    #[error("has no valid host name or address")]
    Host,
    #[error("has an invalid port")]
    Port,
}

impl WebhookEndpoint {
    pub fn slack_default() -> Self {
        Self {
            host: WebhookHost::Name(DEFAULT_WEBHOOK_HOST.to_owned()),
            port: DEFAULT_WEBHOOK_PORT,
        }
    }

    /// The endpoint of `scheme://[user@]host[:port]/path…`; the default port is 443 for
    /// https and 80 for http.
    pub fn from_url(url: &str) -> Result<Self, WebhookUrlError> {
        let url = url.trim();
        let (scheme, rest) = url.split_once("://").ok_or(WebhookUrlError::Scheme)?;
        let default_port = match scheme.to_ascii_lowercase().as_str() {
            "https" => 443,
            "http" => 80,
            _ => return Err(WebhookUrlError::Scheme),
        };
        let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
        let host_port = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
        let (host, port) = if let Some(v6) = host_port.strip_prefix('[') {
            let (addr, after) = v6.split_once(']').ok_or(WebhookUrlError::Host)?;
            let addr: std::net::Ipv6Addr = addr.parse().map_err(|_| WebhookUrlError::Host)?;
            let port = match after {
                "" => None,
                p => Some(p.strip_prefix(':').ok_or(WebhookUrlError::Port)?),
            };
            (WebhookHost::Ip(IpAddr::V6(addr)), port)
        } else {
            let (host, port) = match host_port.split_once(':') {
                Some((h, p)) => (h, Some(p)),
                None => (host_port, None),
            };
            (parse_host(host).ok_or(WebhookUrlError::Host)?, port)
        };
        let port = match port {
            None | Some("") => default_port,
            Some(p) => p
                .parse::<u16>()
                .ok()
                .filter(|p| *p != 0)
                .ok_or(WebhookUrlError::Port)?,
        };
        Ok(Self { host, port })
    }
}

/// A host name (letters, digits, '-', '.') or an IPv4 address.
fn parse_host(raw: &str) -> Option<WebhookHost> {
    if let Ok(ip) = raw.parse::<std::net::Ipv4Addr>() {
        return Some(WebhookHost::Ip(IpAddr::V4(ip)));
    }
    let name = raw.trim_end_matches('.').to_ascii_lowercase();
    let ok = !name.is_empty()
        && name.len() <= 253
        && name.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        });
    ok.then_some(WebhookHost::Name(name))
}

impl fmt::Display for WebhookEndpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.host {
            WebhookHost::Name(n) => write!(f, "{n}:{}", self.port),
            WebhookHost::Ip(IpAddr::V4(ip)) => write!(f, "{ip}:{}", self.port),
            WebhookHost::Ip(IpAddr::V6(ip)) => write!(f, "[{ip}]:{}", self.port),
        }
    }
}

impl FromStr for WebhookEndpoint {
    type Err = WebhookUrlError;

    /// Reads back `host:port` as [`fmt::Display`] writes it.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let e = Self::from_url(&format!("https://{s}"))?;
        if s.ends_with(&format!(":{}", e.port)) {
            Ok(e)
        } else {
            Err(WebhookUrlError::Port)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ep(host: WebhookHost, port: u16) -> WebhookEndpoint {
        WebhookEndpoint { host, port }
    }

    #[test]
    fn urls_give_their_host_and_port_only() {
        let name = |n: &str| WebhookHost::Name(n.into());
        let ip = |a: &str| WebhookHost::Ip(a.parse().expect("IP"));
        for (url, want) in [
            (
                "https://hooks.slack.com/services/T000/B000/XXXX",
                ep(name("hooks.slack.com"), 443),
            ),
            (
                "HTTPS://Hooks.Slack.COM./x",
                ep(name("hooks.slack.com"), 443),
            ),
            (
                "http://127.0.0.1:39201/hook/acme",
                ep(ip("127.0.0.1"), 39201),
            ),
            (
                "https://[2001:db8::7]:8443/x?y",
                ep(ip("2001:db8::7"), 8443),
            ),
            ("https://[2001:db8::7]", ep(ip("2001:db8::7"), 443)),
            (
                "http://user:pw@relay.example.com/x",
                ep(name("relay.example.com"), 80),
            ),
            (
                " https://relay.example.com:8443\n",
                ep(name("relay.example.com"), 8443),
            ),
        ] {
            assert_eq!(WebhookEndpoint::from_url(url), Ok(want.clone()), "{url}");
            assert_eq!(want.to_string().parse(), Ok(want), "round trip");
        }
    }

    #[test]
    fn bad_urls_are_errors_that_quote_nothing() {
        for (url, want) in [
            (
                "hooks.slack.com/services/T/B/SECRET",
                WebhookUrlError::Scheme,
            ),
            ("ftp://hooks.slack.com/SECRET", WebhookUrlError::Scheme),
            ("https:///SECRET", WebhookUrlError::Host),
            ("https://bad host/SECRET", WebhookUrlError::Host),
            ("https://-x.example/SECRET", WebhookUrlError::Host),
            ("https://hooks.slack.com:0/SECRET", WebhookUrlError::Port),
            (
                "https://hooks.slack.com:99999/SECRET",
                WebhookUrlError::Port,
            ),
            ("https://[::1/SECRET", WebhookUrlError::Host),
        ] {
            let err = WebhookEndpoint::from_url(url).expect_err(url);
            assert_eq!(err, want, "{url}");
            assert!(!err.to_string().contains("SECRET"));
        }
    }
}
