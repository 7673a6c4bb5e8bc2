//! Maintenance windows: a schedule (crontab, UTC, see [`vigil_contract::schedule`]:
//! `0 2 * * Sun` = Sundays 02:00) plus a duration, scoped by tenant, namespace, device and
//! rule. Incidents that start inside a window are silenced; when the window ends the engine
//! posts a summary of what was silenced.
use std::time::{Duration, SystemTime};

use chrono::{DateTime, Utc};
use vigil_contract::{Schedule, ScheduleError};

use super::signal::Signal;

/// A window as configured, part of the contract.
pub use vigil_contract::alerts::Window as RawWindow;

#[derive(Debug, Clone)]
pub struct Window {
    pub name: String,
    schedule: Schedule,
    duration: Duration,
    tenants: Vec<String>,
    namespaces: Vec<String>,
    devices: Vec<String>,
    rules: Vec<String>,
}

/// Why a configured window is refused.
#[derive(Debug, thiserror::Error)]
pub enum WindowError {
    #[error("{0}; {how}", how = vigil_contract::schedule::HOW)]
    Cron(#[from] ScheduleError),
    #[error("duration must be more than 0s")]
    Duration,
}

impl WindowError {
    /// The window's field at fault.
    pub fn field(&self) -> &'static str {
        match self {
            WindowError::Cron(_) => "cron",
            WindowError::Duration => "duration",
        }
    }
}

impl Window {
    pub fn new(raw: RawWindow) -> Result<Window, WindowError> {
        let schedule = Schedule::parse(&raw.cron)?;
        if raw.duration.0.is_zero() {
            return Err(WindowError::Duration);
        }
        Ok(Window {
            name: raw.name,
            schedule,
            duration: raw.duration.0,
            tenants: raw.tenants,
            namespaces: raw.namespaces,
            devices: raw.devices,
            rules: raw.rules,
        })
    }

    pub fn schedule(&self) -> &Schedule {
        &self.schedule
    }

    /// The end of the occurrence covering `now`, if the window is open.
    pub fn open_until(&self, now: SystemTime) -> Option<SystemTime> {
        let now_dt: DateTime<Utc> = now.into();
        let span = chrono::Duration::from_std(self.duration).ok()?;
        let from = now_dt.checked_sub_signed(span)?;
        let start = self.schedule.next_after(from)?;
        if start <= now_dt {
            let end: SystemTime = (start + span).into();
            Some(end)
        } else {
            None
        }
    }

    /// Whether the window's scope covers the signal (an empty list matches everything).
    pub fn covers(&self, s: &Signal) -> bool {
        let m = |list: &[String], v: Option<&String>| {
            list.is_empty() || v.is_some_and(|v| list.iter().any(|x| x == v))
        };
        m(&self.tenants, s.scope.tenant.as_ref())
            && m(&self.namespaces, s.scope.namespace.as_ref())
            && m(&self.devices, s.scope.device.as_ref())
            && (self.rules.is_empty() || self.rules.contains(&s.rule))
    }

    /// The tenant a summary goes to: the window's only tenant, else the operator.
    pub fn tenant(&self) -> Option<String> {
        match self.tenants.as_slice() {
            [one] => Some(one.clone()),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::alerts::signal::{Scope, Severity};
    use vigil_contract::units::Dur;

    fn window(cron: &str, secs: u64, namespaces: &[&str]) -> Window {
        Window::new(RawWindow {
            name: "w".into(),
            cron: cron.into(),
            duration: Dur(Duration::from_secs(secs)),
            tenants: vec![],
            namespaces: namespaces.iter().map(|s| s.to_string()).collect(),
            devices: vec![],
            rules: vec![],
        })
        .unwrap()
    }

    #[test]
    fn open_during_the_duration_after_each_occurrence() {
        // every minute at second 0, open for 10 s
        let w = window("0 * * * * *", 10, &[]);
        let base = SystemTime::UNIX_EPOCH + Duration::from_secs(1_800_000_000); // :00 of a minute
        assert_eq!(
            w.open_until(base + Duration::from_secs(3)),
            Some(base + Duration::from_secs(10))
        );
        assert_eq!(w.open_until(base + Duration::from_secs(11)), None);
    }

    #[test]
    fn crontab_weekdays_and_the_old_numbering_open_the_same_window() {
        // 2026-01-04 is a Sunday; 02:30 UTC is inside a one-hour window from 02:00
        let sunday = SystemTime::UNIX_EPOCH + Duration::from_secs(1_767_493_800);
        let end = sunday + Duration::from_secs(1800);
        let monday = sunday + Duration::from_secs(86_400);
        for cron in [
            "0 2 * * 0",
            "0 2 * * 7",
            "0 2 * * Sun",
            "0 0 2 * * 1",
            "0 0 2 * * Sun",
        ] {
            let w = window(cron, 3600, &[]);
            assert_eq!(w.open_until(sunday), Some(end), "{cron}");
            assert_eq!(w.open_until(monday), None, "{cron}");
        }
        // crontab's 1 is Monday
        assert_eq!(window("0 2 * * 1", 3600, &[]).open_until(sunday), None);
        assert!(window("0 2 * * 1", 3600, &[]).open_until(monday).is_some());
    }

    #[test]
    fn scope_and_bad_cron() {
        let w = window("0 * * * * *", 10, &["shop"]);
        let mut scope = Scope {
            namespace: Some("shop".into()),
            object: "Pod/a".into(),
            ..Default::default()
        };
        let s = Signal::new("PodOOMKilled", Severity::Critical, scope.clone(), "x");
        assert!(w.covers(&s));
        scope.namespace = Some("other".into());
        assert!(!w.covers(&Signal::new("PodOOMKilled", Severity::Critical, scope, "x")));
        let e = Window::new(RawWindow {
            name: "x".into(),
            cron: "every sunday".into(),
            duration: Dur(Duration::from_secs(1)),
            tenants: vec![],
            namespaces: vec![],
            devices: vec![],
            rules: vec![],
        })
        .unwrap_err()
        .to_string();
        assert!(e.contains("every sunday"), "{e}");
    }
}
