//! An owned SNMP value, decoded from a response varbind, and its conversion to a field.
use snmp2::Value;

use super::oid::Oid;
use super::profile::Conversion;
use crate::point::FieldValue;

#[derive(Debug, Clone, PartialEq)]
pub enum SnmpValue {
    Int(i64),
    /// Counter32, Gauge32/Unsigned32
    Unsigned(u32),
    Counter64(u64),
    Timeticks(u32),
    Bytes(Vec<u8>),
    Oid(Oid),
    Ip([u8; 4]),
    Bool(bool),
    Null,
    NoSuchObject,
    NoSuchInstance,
    EndOfMibView,
    Other,
}

impl SnmpValue {
    pub fn from_snmp(v: &Value<'_>) -> SnmpValue {
        match v {
            Value::Integer(i) => SnmpValue::Int(*i),
            Value::Counter32(u) | Value::Unsigned32(u) => SnmpValue::Unsigned(*u),
            Value::Counter64(u) => SnmpValue::Counter64(*u),
            Value::Timeticks(t) => SnmpValue::Timeticks(*t),
            Value::OctetString(b) | Value::Opaque(b) => SnmpValue::Bytes(b.to_vec()),
            Value::ObjectIdentifier(o) => {
                Oid::from_snmp(o).map_or(SnmpValue::Other, SnmpValue::Oid)
            }
            Value::IpAddress(a) => SnmpValue::Ip(*a),
            Value::Boolean(b) => SnmpValue::Bool(*b),
            Value::Null => SnmpValue::Null,
            Value::NoSuchObject => SnmpValue::NoSuchObject,
            Value::NoSuchInstance => SnmpValue::NoSuchInstance,
            Value::EndOfMibView => SnmpValue::EndOfMibView,
            _ => SnmpValue::Other,
        }
    }

    /// Whether the agent actually has a value (not an exception or NULL).
    pub fn is_value(&self) -> bool {
        !matches!(
            self,
            SnmpValue::Null
                | SnmpValue::NoSuchObject
                | SnmpValue::NoSuchInstance
                | SnmpValue::EndOfMibView
                | SnmpValue::Other
        )
    }

    pub fn as_i64(&self) -> Option<i64> {
        match self {
            SnmpValue::Int(i) => Some(*i),
            SnmpValue::Unsigned(u) | SnmpValue::Timeticks(u) => Some(i64::from(*u)),
            SnmpValue::Counter64(u) => Some(i64::try_from(*u).unwrap_or(i64::MAX)),
            SnmpValue::Bytes(b) => std::str::from_utf8(b)
                .ok()
                .and_then(|s| s.trim().parse().ok()),
            _ => None,
        }
    }

    pub fn as_f64(&self) -> Option<f64> {
        match self {
            SnmpValue::Bytes(b) => std::str::from_utf8(b)
                .ok()
                .and_then(|s| s.trim().parse().ok()),
            SnmpValue::Counter64(u) => Some(*u as f64),
            v => v.as_i64().map(|i| i as f64),
        }
    }

    /// Text as shown in a tag or string field: UTF-8 (lossy) for strings, `.1.3...` for
    /// OIDs, dotted quad for IP addresses, decimal for numbers. Trailing NULs, which some
    /// agents append to strings, are removed.
    pub fn as_text(&self) -> String {
        match self {
            SnmpValue::Bytes(b) => {
                let b = b.strip_suffix(&[0]).unwrap_or(b);
                String::from_utf8_lossy(b).into_owned()
            }
            SnmpValue::Oid(o) => o.to_string(),
            SnmpValue::Ip(a) => format!("{}.{}.{}.{}", a[0], a[1], a[2], a[3]),
            SnmpValue::Counter64(u) => u.to_string(),
            SnmpValue::Bool(b) => b.to_string(),
            v => v.as_i64().map(|i| i.to_string()).unwrap_or_default(),
        }
    }

    /// The field value under a conversion; `None` when the value cannot be converted.
    pub fn to_field(&self, conversion: Conversion) -> Option<FieldValue> {
        if !self.is_value() {
            return None;
        }
        Some(match conversion {
            Conversion::Auto => match self {
                SnmpValue::Int(i) => FieldValue::Int(*i),
                SnmpValue::Unsigned(u) | SnmpValue::Timeticks(u) => FieldValue::Int(i64::from(*u)),
                SnmpValue::Counter64(u) => FieldValue::from_u64(*u),
                SnmpValue::Bool(b) => FieldValue::Bool(*b),
                v => FieldValue::Str(v.as_text()),
            },
            Conversion::Int => FieldValue::Int(self.as_i64()?),
            Conversion::Float => FieldValue::Float(self.as_f64()?),
            Conversion::Scaled(n) => FieldValue::Float(self.as_f64()? / 10f64.powi(i32::from(n))),
            Conversion::String => FieldValue::Str(self.as_text()),
            Conversion::HwAddr => match self {
                SnmpValue::Bytes(b) => FieldValue::Str(
                    b.iter()
                        .map(|x| format!("{x:02x}"))
                        .collect::<Vec<_>>()
                        .join(":"),
                ),
                v => FieldValue::Str(v.as_text()),
            },
            Conversion::IpAddr => match self {
                SnmpValue::Bytes(b) if b.len() == 4 => {
                    FieldValue::Str(format!("{}.{}.{}.{}", b[0], b[1], b[2], b[3]))
                }
                SnmpValue::Bytes(b) if b.len() == 16 => {
                    let mut a = [0u8; 16];
                    a.copy_from_slice(b);
                    FieldValue::Str(std::net::Ipv6Addr::from(a).to_string())
                }
                v => FieldValue::Str(v.as_text()),
            },
        })
    }
}

/// Why [`decode_message`] refused its input.
#[derive(Debug, thiserror::Error)]
pub enum DecodeError {
    #[error("not an SNMP message")]
    Pdu(#[source] snmp2::Error),
    #[error("OID arc out of range")]
    OidRange,
}

/// Decodes a v1/v2c message (as received from the network) into owned varbinds, the way
/// the client does. Used by the fuzz target and tests: it must never panic on any input.
pub fn decode_message(bytes: &[u8]) -> Result<(u32, Vec<(Oid, SnmpValue)>), DecodeError> {
    let pdu = snmp2::Pdu::from_bytes(bytes).map_err(DecodeError::Pdu)?;
    let mut out = Vec::new();
    for (name, value) in pdu.varbinds {
        let oid = Oid::from_snmp(&name).ok_or(DecodeError::OidRange)?;
        let v = SnmpValue::from_snmp(&value);
        // exercise the conversions too
        let _ = v.to_field(Conversion::Auto);
        let _ = v.to_field(Conversion::HwAddr);
        let _ = v.as_text();
        out.push((oid, v));
    }
    Ok((pdu.error_status, out))
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    /// A response captured from net-snmp's snmpd (`snmpget -d`): sysName.0 =
    /// "vigil-sandbox-snmpd", sysUpTime.0 = 606.
    const CAPTURED: &str = "30 52 02 01 01 04 0C 76 69 67 69 6C 2D 70 75 62 6C 69 63 A2 3F 02 04 32 D9 89 0F \
        02 01 00 02 01 00 30 31 30 1F 06 08 2B 06 01 02 01 01 05 00 04 13 76 69 67 69 6C 2D 73 61 6E 64 62 \
        6F 78 2D 73 6E 6D 70 64 30 0E 06 08 2B 06 01 02 01 01 03 00 43 02 02 5E";

    fn response() -> Vec<u8> {
        CAPTURED
            .split_whitespace()
            .map(|h| u8::from_str_radix(h, 16).unwrap())
            .collect()
    }

    #[test]
    fn decodes_a_response() {
        let (status, vb) = decode_message(&response()).unwrap();
        assert_eq!(status, 0);
        assert_eq!(vb[0].0.to_string(), ".1.3.6.1.2.1.1.5.0");
        assert_eq!(vb[0].1.as_text(), "vigil-sandbox-snmpd");
        assert_eq!(vb[1].1, SnmpValue::Timeticks(606));
        assert_eq!(
            vb[1].1.to_field(Conversion::Auto),
            Some(FieldValue::Int(606))
        );
    }

    proptest! {
        #[test]
        fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
            let _ = decode_message(&bytes);
        }

        #[test]
        fn corrupted_responses_never_panic(pos in 0usize..64, byte in any::<u8>(), cut in 0usize..64) {
            let mut r = response();
            let i = pos % r.len();
            r[i] = byte;
            r.truncate(r.len() - cut.min(r.len()));
            let _ = decode_message(&r);
        }
    }
}
