//! A device's SNMP settings, resolved from its `snmp` section and the defaults by
//! [`crate::config`].
use std::time::Duration;

use crate::secret::Secret;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthProtocol {
    Md5,
    Sha1,
    Sha224,
    Sha256,
    Sha384,
    Sha512,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PrivProtocol {
    Des,
    Aes128,
    Aes192,
    Aes256,
}

#[derive(Debug, Clone)]
pub enum SnmpCredentials {
    V2c {
        community: Secret,
    },
    V3 {
        user: String,
        auth: Option<(AuthProtocol, Secret)>,
        privacy: Option<(PrivProtocol, Secret)>,
        context: String,
    },
}

#[derive(Debug, Clone)]
pub struct SnmpSettings {
    pub credentials: SnmpCredentials,
    pub port: u16,
    pub timeout: Duration,
    pub retries: u32,
    pub max_repetitions: u32,
}
