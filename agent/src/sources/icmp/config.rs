//! A target's ICMP settings, resolved from its `icmp` section and the defaults by
//! [`crate::config`].
use std::time::Duration;

#[derive(Debug, Clone, PartialEq)]
pub struct IcmpSettings {
    pub count: u16,
    pub interval: Duration,
    pub timeout: Duration,
}
