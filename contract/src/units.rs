//! Human-friendly durations (`500ms`, `30s`, `5m`, `1h`) and sizes (`512KiB`, `1GiB`,
//! `10MB`) as they appear in the files. Written in the largest unit that is exact, so what
//! the deployer renders reads as a person would write it (`1m`, `256MiB`).
use std::fmt;
use std::time::Duration;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A duration written like `30s`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Dur(pub Duration);

/// A byte size written like `1GiB`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Bytes(pub u64);

/// Why a duration or a size does not read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UnitError {
    #[error("duration {0:?} has no unit; write e.g. 30s, 500ms, 5m")]
    NoUnit(String),
    #[error("duration {0:?} does not start with a number")]
    NotADuration(String),
    #[error("duration {text:?} has unknown unit {unit:?}; use ms, s, m or h")]
    DurationUnit { text: String, unit: String },
    #[error("duration {0:?} is out of range")]
    DurationRange(String),
    #[error("size {0:?} does not start with a whole number")]
    NotASize(String),
    #[error("size {text:?} has unknown unit {unit:?}; use B, KB, MB, GB, KiB, MiB or GiB")]
    SizeUnit { text: String, unit: String },
    #[error("size {0:?} is out of range")]
    SizeRange(String),
}

pub fn parse_duration(s: &str) -> Result<Duration, UnitError> {
    let s = s.trim();
    let split = s
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .ok_or_else(|| UnitError::NoUnit(s.to_owned()))?;
    let (num, unit) = s.split_at(split);
    let n: f64 = num
        .parse()
        .map_err(|_| UnitError::NotADuration(s.to_owned()))?;
    let secs = match unit {
        "ms" => n / 1000.0,
        "s" => n,
        "m" => n * 60.0,
        "h" => n * 3600.0,
        _ => {
            return Err(UnitError::DurationUnit {
                text: s.to_owned(),
                unit: unit.to_owned(),
            });
        }
    };
    Duration::try_from_secs_f64(secs).map_err(|_| UnitError::DurationRange(s.to_owned()))
}

pub fn parse_bytes(s: &str) -> Result<u64, UnitError> {
    let s = s.trim();
    let split = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    let (num, unit) = s.split_at(split);
    let n: u64 = num.parse().map_err(|_| UnitError::NotASize(s.to_owned()))?;
    let mul: u64 = match unit.trim() {
        "" | "B" => 1,
        "KB" => 1000,
        "MB" => 1000 * 1000,
        "GB" => 1000 * 1000 * 1000,
        "KiB" => 1 << 10,
        "MiB" => 1 << 20,
        "GiB" => 1 << 30,
        u => {
            return Err(UnitError::SizeUnit {
                text: s.to_owned(),
                unit: u.to_owned(),
            });
        }
    };
    n.checked_mul(mul)
        .ok_or_else(|| UnitError::SizeRange(s.to_owned()))
}

impl Dur {
    /// As written in a file: the largest of `h`, `m`, `s`, `ms` that is exact.
    pub fn text(&self) -> String {
        let ms = self.0.as_millis();
        if Duration::from_millis(u64::try_from(ms).unwrap_or(u64::MAX)) != self.0 {
            return format!("{}s", self.0.as_secs_f64());
        }
        match ms {
            0 => "0s".to_owned(),
            _ if ms.is_multiple_of(3_600_000) => format!("{}h", ms / 3_600_000),
            _ if ms.is_multiple_of(60_000) => format!("{}m", ms / 60_000),
            _ if ms.is_multiple_of(1000) => format!("{}s", ms / 1000),
            _ => format!("{ms}ms"),
        }
    }
}

impl Bytes {
    /// As written in a file: the largest of `GiB`, `MiB`, `KiB` that is exact, else bytes.
    pub fn text(&self) -> String {
        let n = self.0;
        match n {
            0 => "0".to_owned(),
            _ if n.is_multiple_of(1 << 30) => format!("{}GiB", n >> 30),
            _ if n.is_multiple_of(1 << 20) => format!("{}MiB", n >> 20),
            _ if n.is_multiple_of(1 << 10) => format!("{}KiB", n >> 10),
            _ => n.to_string(),
        }
    }
}

impl<'de> Deserialize<'de> for Dur {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        parse_duration(&s)
            .map(Dur)
            .map_err(serde::de::Error::custom)
    }
}

impl Serialize for Dur {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.text())
    }
}

impl<'de> Deserialize<'de> for Bytes {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            N(u64),
            S(String),
        }
        match Raw::deserialize(d)? {
            Raw::N(n) => Ok(Bytes(n)),
            Raw::S(s) => parse_bytes(&s).map(Bytes).map_err(serde::de::Error::custom),
        }
    }
}

impl Serialize for Bytes {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.text())
    }
}

impl fmt::Display for Dur {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let ms = self.0.as_millis();
        if ms.is_multiple_of(1000) {
            write!(f, "{}s", ms / 1000)
        } else {
            write!(f, "{ms}ms")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(parse_duration("1.5s"), Ok(Duration::from_millis(1500)));
        assert_eq!(parse_duration("5m"), Ok(Duration::from_secs(300)));
        assert!(
            parse_duration("5")
                .unwrap_err()
                .to_string()
                .contains("no unit")
        );
        assert!(
            parse_duration("5d")
                .unwrap_err()
                .to_string()
                .contains("unknown unit")
        );
    }

    #[test]
    fn sizes() {
        assert_eq!(parse_bytes("1GiB"), Ok(1 << 30));
        assert_eq!(parse_bytes("10MB"), Ok(10_000_000));
        assert_eq!(parse_bytes("4096"), Ok(4096));
        assert!(parse_bytes("1TB").is_err());
    }

    #[test]
    fn written_in_the_largest_exact_unit_and_read_back() {
        for (text, canonical) in [
            ("30s", "30s"),
            ("60s", "1m"),
            ("90s", "90s"),
            ("2h", "2h"),
            ("1500ms", "1500ms"),
            ("0s", "0s"),
        ] {
            let d = Dur(parse_duration(text).unwrap());
            assert_eq!(d.text(), canonical);
            assert_eq!(parse_duration(&d.text()).unwrap(), d.0);
        }
        for (text, canonical) in [("256MiB", "256MiB"), ("1GiB", "1GiB"), ("10MB", "10000000")] {
            let b = Bytes(parse_bytes(text).unwrap());
            assert_eq!(b.text(), canonical);
            assert_eq!(parse_bytes(&b.text()).unwrap(), b.0);
        }
    }
}
