//! One SNMP session to one device: v2c or v3 (USM, auth + priv), with a per-request
//! deadline and retries. Requests are GET (many OIDs) and GETBULK.
use std::net::SocketAddr;
use std::time::Duration;

use snmp2::v3;
use snmp2::{AsyncSession, Error as WireError, Version};

use super::config::{AuthProtocol, PrivProtocol, SnmpCredentials, SnmpSettings};
use super::oid::Oid;
use super::value::SnmpValue;

#[derive(Debug, thiserror::Error)]
pub enum SnmpError {
    #[error("cannot resolve {address}: {reason}")]
    Resolve { address: String, reason: String },
    #[error("socket error: {0}")]
    Io(#[from] std::io::Error),
    #[error("no response within {timeout:?} after {attempts} attempts")]
    Timeout { timeout: Duration, attempts: u32 },
    #[error(
        "SNMPv3 authentication failed ({0}): check the user, auth/priv protocols and passwords"
    )]
    Auth(String),
    #[error("the agent answered with error status {status} ({name}) at index {index}")]
    Status {
        status: u32,
        name: &'static str,
        index: u32,
    },
    #[error("response too big for the agent even at max-repetitions 1")]
    TooBig,
    #[error("invalid response: {0}")]
    Protocol(String),
    #[error(transparent)]
    Oid(#[from] super::oid::OidError),
}

impl SnmpError {
    pub fn is_timeout(&self) -> bool {
        matches!(self, SnmpError::Timeout { .. })
    }
}

fn status_name(s: u32) -> &'static str {
    match s {
        1 => "tooBig",
        2 => "noSuchName",
        3 => "badValue",
        5 => "genErr",
        6 => "noAccess",
        16 => "authorizationError",
        _ => "other",
    }
}

pub type Varbinds = Vec<(Oid, SnmpValue)>;

pub struct SnmpSession {
    session: AsyncSession,
    timeout: Duration,
    retries: u32,
    v3: bool,
}

fn security(
    user: &str,
    auth: &Option<(AuthProtocol, crate::secret::Secret)>,
    privacy: &Option<(PrivProtocol, crate::secret::Secret)>,
    context: &str,
) -> v3::Security {
    let (auth_pass, proto) = match auth {
        Some((p, s)) => (s.expose().as_bytes(), Some(*p)),
        None => (&b""[..], None),
    };
    let mut sec = v3::Security::new(user.as_bytes(), auth_pass);
    if let Some(p) = proto {
        sec = sec.with_auth_protocol(match p {
            AuthProtocol::Md5 => v3::AuthProtocol::Md5,
            AuthProtocol::Sha1 => v3::AuthProtocol::Sha1,
            AuthProtocol::Sha224 => v3::AuthProtocol::Sha224,
            AuthProtocol::Sha256 => v3::AuthProtocol::Sha256,
            AuthProtocol::Sha384 => v3::AuthProtocol::Sha384,
            AuthProtocol::Sha512 => v3::AuthProtocol::Sha512,
        });
    }
    sec = sec.with_auth(match (proto, privacy) {
        (None, _) => v3::Auth::NoAuthNoPriv,
        (Some(_), None) => v3::Auth::AuthNoPriv,
        (Some(_), Some((c, pass))) => v3::Auth::AuthPriv {
            cipher: match c {
                PrivProtocol::Des => v3::Cipher::Des,
                PrivProtocol::Aes128 => v3::Cipher::Aes128,
                PrivProtocol::Aes192 => v3::Cipher::Aes192,
                PrivProtocol::Aes256 => v3::Cipher::Aes256,
            },
            privacy_password: pass.expose().as_bytes().to_vec(),
        },
    });
    if !context.is_empty() {
        sec = sec.with_context_name(context);
    }
    // AES-192/256 with a short auth hash need a key extension; net-snmp uses Blumenthal
    sec.with_key_extension_method(v3::KeyExtension::Blumenthal)
}

fn map_wire(e: WireError, v3: bool) -> SnmpError {
    match e {
        WireError::AuthFailure(kind) => SnmpError::Auth(format!("{kind:?}")),
        WireError::Crypto(c) => SnmpError::Auth(format!("crypto: {c}")),
        // a v3 agent answers a bad user, digest or decryption with a Report PDU
        WireError::AsnWrongType if v3 => {
            SnmpError::Auth("the agent answered with a USM report".into())
        }
        WireError::Send | WireError::Receive => SnmpError::Protocol(format!("socket: {e}")),
        e => SnmpError::Protocol(e.to_string()),
    }
}

#[derive(Clone, Copy)]
enum Op<'a> {
    Get(&'a [Oid]),
    Bulk(&'a [Oid], u32),
}

impl SnmpSession {
    /// Opens a session; for v3 this also discovers the agent's engine id and time.
    pub async fn connect(address: &str, settings: &SnmpSettings) -> Result<SnmpSession, SnmpError> {
        let target = resolve(address, settings.port).await?;
        let (session, v3) = match &settings.credentials {
            SnmpCredentials::V2c { community } => (
                AsyncSession::new_v2c(
                    target,
                    community.expose().as_bytes(),
                    rand::random::<i32>() & 0x3fff_ffff,
                )
                .await?,
                false,
            ),
            SnmpCredentials::V3 {
                user,
                auth,
                privacy,
                context,
            } => (
                AsyncSession::new_v3(
                    target,
                    rand::random::<i32>() & 0x3fff_ffff,
                    security(user, auth, privacy, context),
                )
                .await?,
                true,
            ),
        };
        let mut s = SnmpSession {
            session,
            timeout: settings.timeout,
            retries: settings.retries,
            v3,
        };
        if v3 {
            s.init_v3().await?;
        }
        Ok(s)
    }

    async fn init_v3(&mut self) -> Result<(), SnmpError> {
        let mut attempts = 0;
        loop {
            attempts += 1;
            match tokio::time::timeout(self.timeout, self.session.init()).await {
                Ok(Ok(())) => return Ok(()),
                Ok(Err(WireError::AuthUpdated)) => {}
                Ok(Err(e)) => return Err(map_wire(e, true)),
                Err(_) if attempts > self.retries => {
                    return Err(SnmpError::Timeout {
                        timeout: self.timeout,
                        attempts,
                    });
                }
                Err(_) => {}
            }
        }
    }

    pub fn version(&self) -> Version {
        self.session.version()
    }

    async fn request(&mut self, op: Op<'_>) -> Result<Varbinds, SnmpError> {
        let mut snmp_oids = Vec::new();
        let oids = match op {
            Op::Get(o) | Op::Bulk(o, _) => o,
        };
        for o in oids {
            snmp_oids.push(o.to_snmp()?);
        }
        let refs: Vec<&snmp2::Oid<'_>> = snmp_oids.iter().collect();
        let mut attempts = 0u32;
        let mut stray = 0u32;
        let timeout = self.timeout;
        loop {
            attempts += 1;
            let session = &mut self.session;
            let refs = &refs;
            let fut = async move {
                let pdu = match op {
                    Op::Get(_) => session.get_many(refs).await,
                    Op::Bulk(_, reps) => session.getbulk(refs, 0, reps).await,
                }?;
                if pdu.error_status != 0 {
                    return Ok(Err((pdu.error_status, pdu.error_index)));
                }
                let mut out = Vec::with_capacity(refs.len() * 8);
                for (name, value) in pdu.varbinds {
                    let oid = Oid::from_snmp(&name).ok_or(WireError::AsnParse)?;
                    out.push((oid, SnmpValue::from_snmp(&value)));
                }
                Ok::<_, WireError>(Ok(out))
            };
            match tokio::time::timeout(timeout, fut).await {
                Ok(Ok(Ok(v))) => return Ok(v),
                Ok(Ok(Err((1, _)))) => return Err(SnmpError::TooBig),
                Ok(Ok(Err((status, index)))) => {
                    return Err(SnmpError::Status {
                        status,
                        name: status_name(status),
                        index,
                    });
                }
                // a late answer to an earlier, timed-out request: ask again
                Ok(Err(WireError::RequestIdMismatch)) if stray < 8 => {
                    stray += 1;
                    attempts -= 1;
                }
                // v3 engine time re-synchronised: repeat
                Ok(Err(WireError::AuthUpdated)) if stray < 8 => {
                    stray += 1;
                    attempts -= 1;
                }
                Ok(Err(e)) => return Err(map_wire(e, self.v3)),
                Err(_) if attempts > self.retries => {
                    return Err(SnmpError::Timeout {
                        timeout: self.timeout,
                        attempts,
                    });
                }
                Err(_) => {}
            }
        }
    }

    /// GET of several OIDs in one request.
    pub async fn get(&mut self, oids: &[Oid]) -> Result<Varbinds, SnmpError> {
        self.request(Op::Get(oids)).await
    }

    /// GETBULK with `max_repetitions` rows for each OID.
    pub async fn bulk(
        &mut self,
        oids: &[Oid],
        max_repetitions: u32,
    ) -> Result<Varbinds, SnmpError> {
        self.request(Op::Bulk(oids, max_repetitions)).await
    }
}

async fn resolve(address: &str, port: u16) -> Result<SocketAddr, SnmpError> {
    if let Ok(ip) = address.parse::<std::net::IpAddr>() {
        return Ok(SocketAddr::new(ip, port));
    }
    tokio::net::lookup_host((address, port))
        .await
        .map_err(|e| SnmpError::Resolve {
            address: address.to_string(),
            reason: e.to_string(),
        })?
        .next()
        .ok_or_else(|| SnmpError::Resolve {
            address: address.to_string(),
            reason: "no address found".into(),
        })
}
