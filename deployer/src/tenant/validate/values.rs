//! Scalar values people write by hand: quantities, durations, cron schedules, images.

use std::fmt;

use serde::Serialize;
use vigil_contract::{Schedule, schedule};

use super::Problem;

/// A Kubernetes resource quantity such as `512Mi`, `1.5Gi` or `250m`, kept as written.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(transparent)]
pub struct Quantity(String);

const SUFFIXES: &[(&str, f64)] = &[
    ("Ki", 1024.0),
    ("Mi", 1048576.0),
    ("Gi", 1073741824.0),
    ("Ti", 1099511627776.0),
    ("Pi", 1125899906842624.0),
    ("Ei", 1152921504606846976.0),
    ("n", 1e-9),
    ("u", 1e-6),
    ("m", 1e-3),
    ("k", 1e3),
    ("M", 1e6),
    ("G", 1e9),
    ("T", 1e12),
    ("P", 1e15),
    ("E", 1e18),
    ("", 1.0),
];

impl Quantity {
    /// Parses a positive quantity; `what` says what it measures, for the message.
    pub fn parse(path: &str, raw: &str, what: &str, example: &str) -> Result<Self, Problem> {
        match value_of(raw) {
            Some(v) if v > 0.0 => Ok(Self(raw.to_owned())),
            _ => Err(Problem::new(
                path,
                format!("{raw:?} is not a valid {what} quantity"),
                format!("write a positive number with an optional unit suffix, e.g. {example:?}"),
            )),
        }
    }

    /// The value in base units (bytes or cores).
    pub fn value(&self) -> f64 {
        value_of(&self.0).unwrap_or(0.0)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Quantity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

fn value_of(raw: &str) -> Option<f64> {
    let (number, factor) = SUFFIXES
        .iter()
        .find_map(|(s, f)| raw.strip_suffix(s).map(|n| (n, *f)))?;
    let digits_ok = !number.is_empty()
        && number.bytes().all(|b| b.is_ascii_digit() || b == b'.')
        && number.bytes().filter(|b| *b == b'.').count() <= 1
        && !number.starts_with('.')
        && !number.ends_with('.');
    if !digits_ok {
        return None;
    }
    number.parse::<f64>().ok().map(|n| n * factor)
}

/// A duration written as `90s`, `5m`, `12h`, `30d` or `2w`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub struct Duration(u64);

impl Duration {
    pub fn parse(raw: &str) -> Option<Self> {
        let unit_at = raw.find(|c: char| !c.is_ascii_digit())?;
        let (number, unit) = raw.split_at(unit_at);
        let n: u64 = number.parse().ok()?;
        let factor = match unit {
            "s" => 1,
            "m" => 60,
            "h" => 3600,
            "d" => 86400,
            "w" => 604800,
            _ => return None,
        };
        n.checked_mul(factor).map(Self)
    }

    pub fn from_secs(secs: u64) -> Self {
        Self(secs)
    }

    pub fn secs(self) -> u64 {
        self.0
    }
}

impl fmt::Display for Duration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = self.0;
        match s {
            _ if s.is_multiple_of(86400) && s > 0 => write!(f, "{}d", s / 86400),
            _ if s.is_multiple_of(3600) && s > 0 => write!(f, "{}h", s / 3600),
            _ if s.is_multiple_of(60) && s > 0 => write!(f, "{}m", s / 60),
            _ => write!(f, "{s}s"),
        }
    }
}

/// A duration within bounds, with a what/where/how message otherwise.
pub fn duration(path: &str, raw: &str, min: u64, max: u64) -> Result<Duration, Problem> {
    match Duration::parse(raw) {
        Some(d) if (min..=max).contains(&d.secs()) => Ok(d),
        Some(_) => Err(Problem::new(
            path,
            format!("{raw:?} is out of range"),
            format!(
                "use a duration between {} and {}",
                Duration(min),
                Duration(max)
            ),
        )),
        None => Err(Problem::new(
            path,
            format!("{raw:?} is not a duration"),
            "write a whole number followed by s, m, h, d or w, e.g. \"30d\"",
        )),
    }
}

/// A crontab schedule (five fields, minute hour day-of-month month day-of-week, or a name
/// such as `@daily`), in UTC: vigil-agent reads the same dialect (`vigil_contract::schedule`),
/// so it is passed on as written.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(transparent)]
pub struct CronSchedule(String);

impl CronSchedule {
    pub fn parse(path: &str, raw: &str) -> Result<Self, Problem> {
        match Schedule::crontab(raw) {
            Ok(_) => Ok(Self(raw.to_owned())),
            Err(e) => Err(Problem::new(path, e.to_string(), schedule::HOW)),
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A container image reference that is pinned to a tag other than `latest` or to a digest.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(transparent)]
pub struct Image(String);

impl Image {
    pub fn parse(path: &str, raw: &str) -> Result<Self, Problem> {
        let bad = |why: &str| {
            Problem::new(
                path,
                format!("image {raw:?} {why}"),
                "write repository:tag or repository@sha256:digest, e.g. \"influxdb:2.7.11\"",
            )
        };
        if raw.is_empty() || raw.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(bad("is empty or contains whitespace"));
        }
        if raw.contains("@sha256:") {
            return Ok(Self(raw.to_owned()));
        }
        let last = raw.rsplit('/').next().unwrap_or(raw);
        match last.split_once(':') {
            Some((_, "latest")) => Err(bad(
                "uses the moving tag latest, so two applies may run different code",
            )),
            Some((repo, tag)) if !repo.is_empty() && !tag.is_empty() => Ok(Self(raw.to_owned())),
            _ => Err(bad("has no tag, so two applies may run different code")),
        }
    }

    pub fn default_for(raw: &str) -> Self {
        Self(raw.to_owned())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantities() {
        assert_eq!(value_of("1Gi"), Some(1073741824.0));
        assert_eq!(value_of("250m"), Some(0.25));
        assert_eq!(value_of("1.5"), Some(1.5));
        assert_eq!(value_of("10GB"), None);
        assert_eq!(value_of("Gi"), None);
        assert_eq!(value_of("-1Gi"), None);
    }

    #[test]
    fn durations() {
        assert_eq!(Duration::parse("30d").map(Duration::secs), Some(2592000));
        assert_eq!(Duration::parse("30"), None);
        assert_eq!(Duration::parse("1.5h"), None);
        assert_eq!(Duration::from_secs(2592000).to_string(), "30d");
    }

    #[test]
    fn cron() {
        assert!(CronSchedule::parse("p", "0 8 * * 1-5").is_ok());
        assert!(CronSchedule::parse("p", "61 8 * * *").is_err());
        assert!(CronSchedule::parse("p", "0 8 * *").is_err());
    }

    #[test]
    fn schedules_are_crontab_and_passed_on_as_written() {
        for ok in [
            "0 8 * * 1-5",
            "30 6 * * 0,6",
            "0 8 * * 7",
            "*/15 * * * *",
            "@daily",
        ] {
            assert_eq!(CronSchedule::parse("x", ok).unwrap().as_str(), ok);
        }
        assert!(CronSchedule::parse("x", "0 8 * * 9").is_err());
        // the agent's old six-field form is not for tenant files
        let e = CronSchedule::parse("x", "0 0 8 * * Mon-Fri")
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("6 field(s)") && e.contains("write five fields"),
            "{e}"
        );
        let e = CronSchedule::parse("p", "61 8 * * *")
            .unwrap_err()
            .to_string();
        assert!(
            e.starts_with("p: \"61 8 * * *\" is not a valid cron schedule: the minute field")
                && e.contains("0 8 * * 1-5"),
            "{e}"
        );
    }

    #[test]
    fn images() {
        assert!(Image::parse("p", "influxdb:2.7.11").is_ok());
        assert!(Image::parse("p", "registry.local:5000/grafana/grafana:11.3.0").is_ok());
        assert!(Image::parse("p", "registry.local:5000/grafana/grafana").is_err());
        assert!(Image::parse("p", "grafana:latest").is_err());
        assert!(Image::parse("p", "x@sha256:abc").is_ok());
    }
}
