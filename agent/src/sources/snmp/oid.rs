//! An owned numeric OID. Printed like net-snmp's `-On` (`.1.3.6.1.2.1.1.5.0`).
use std::fmt;
use std::num::ParseIntError;

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Oid(pub Vec<u32>);

/// Why a text is not a numeric OID, or an OID cannot go on the wire.
#[derive(Debug, thiserror::Error)]
pub enum OidError {
    #[error("empty OID {0:?}")]
    Empty(String),
    #[error("OID {text:?} has an invalid part {part:?}")]
    Part {
        text: String,
        part: String,
        #[source]
        source: ParseIntError,
    },
    /// `reason` is the SNMP library's error in `Debug` form: that type is no `Error`.
    #[error("cannot encode OID {oid}: {reason}")]
    Encode { oid: Oid, reason: String },
}

impl Oid {
    pub fn parse(text: &str) -> Result<Oid, OidError> {
        let t = text.trim().trim_start_matches('.');
        if t.is_empty() {
            return Err(OidError::Empty(text.to_string()));
        }
        t.split('.')
            .map(|p| {
                p.parse::<u32>().map_err(|source| OidError::Part {
                    text: text.to_string(),
                    part: p.to_string(),
                    source,
                })
            })
            .collect::<Result<Vec<_>, _>>()
            .map(Oid)
    }

    pub fn starts_with(&self, prefix: &Oid) -> bool {
        self.0.starts_with(&prefix.0)
    }

    pub fn join(&self, suffix: &Oid) -> Oid {
        let mut v = self.0.clone();
        v.extend_from_slice(&suffix.0);
        Oid(v)
    }

    /// The part after `prefix` (a table row index), as `a.b.c`.
    pub fn suffix_after(&self, prefix: &Oid) -> Option<&[u32]> {
        self.0.strip_prefix(prefix.0.as_slice())
    }

    pub fn to_snmp(&self) -> Result<snmp2::Oid<'static>, OidError> {
        let arcs: Vec<u64> = self.0.iter().map(|&a| u64::from(a)).collect();
        snmp2::Oid::from(arcs.as_slice()).map_err(|e| OidError::Encode {
            oid: self.clone(),
            reason: format!("{e:?}"),
        })
    }

    pub fn from_snmp(oid: &snmp2::Oid<'_>) -> Option<Oid> {
        oid.iter()
            .map(|it| {
                it.map(|a| u32::try_from(a).ok())
                    .collect::<Option<Vec<u32>>>()
            })
            .and_then(|v| v.map(Oid))
    }
}

/// Formats a row index the way it is shown in tags: `1` or `1.2.3`.
pub fn index_string(index: &[u32]) -> String {
    let mut s = String::new();
    for (i, a) in index.iter().enumerate() {
        if i > 0 {
            s.push('.');
        }
        s.push_str(&a.to_string());
    }
    s
}

impl fmt::Display for Oid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for a in &self.0 {
            write!(f, ".{a}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bad_part_keeps_why_it_does_not_parse() {
        let e = Oid::parse("1.3.x").unwrap_err();
        assert_eq!(
            crate::error::chain(&e),
            "OID \"1.3.x\" has an invalid part \"x\": invalid digit found in string"
        );
        let e = Oid::parse("1.99999999999").unwrap_err();
        assert!(crate::error::chain(&e).ends_with("too large to fit in target type"));
        assert_eq!(Oid::parse(" .1.3.6 ").unwrap(), Oid(vec![1, 3, 6]));
    }
}
