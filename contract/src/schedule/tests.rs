use chrono::{Datelike, Duration, TimeZone, Weekday};

use super::*;

fn at(y: i32, mo: u32, d: u32, h: u32, mi: u32, s: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(y, mo, d, h, mi, s).unwrap()
}

/// The next `n` times after `from`.
fn next(s: &Schedule, from: DateTime<Utc>, n: usize) -> Vec<DateTime<Utc>> {
    let mut out = Vec::new();
    let mut t = from;
    while out.len() < n {
        let Some(x) = s.next_after(t) else { break };
        out.push(x);
        t = x;
    }
    out
}

fn weekdays(s: &Schedule, from: DateTime<Utc>, n: usize) -> Vec<Weekday> {
    next(s, from, n).iter().map(|t| t.weekday()).collect()
}

// 2026-01-03 is a Saturday.
const SAT: (i32, u32, u32) = (2026, 1, 3);

fn saturday() -> DateTime<Utc> {
    at(SAT.0, SAT.1, SAT.2, 0, 0, 0)
}

#[test]
fn crontab_weekday_ranges_count_from_sunday_0() {
    use Weekday::*;
    let s = Schedule::crontab("0 8 * * 1-5").unwrap();
    assert!(!s.is_legacy());
    assert_eq!(
        next(&s, saturday(), 2),
        vec![at(2026, 1, 5, 8, 0, 0), at(2026, 1, 6, 8, 0, 0)],
        "Monday and Tuesday 08:00 UTC"
    );
    assert_eq!(
        weekdays(&s, saturday(), 6),
        vec![Mon, Tue, Wed, Thu, Fri, Mon]
    );
    let names = Schedule::crontab("0 8 * * Mon-Fri").unwrap();
    assert_eq!(next(&names, saturday(), 10), next(&s, saturday(), 10));
    let weekend = Schedule::crontab("30 6 * * 0,6").unwrap();
    assert_eq!(weekdays(&weekend, saturday(), 4), vec![Sat, Sun, Sat, Sun]);
}

#[test]
fn sunday_is_0_and_7() {
    let first = at(2026, 1, 4, 0, 0, 0); // a Sunday
    for text in [
        "0 0 * * 0",
        "0 0 * * 7",
        "0 0 * * Sun",
        "0 0 * * sunday",
        "@weekly",
    ] {
        let s = Schedule::crontab(text).unwrap();
        let got = next(&s, saturday(), 3);
        assert_eq!(
            got,
            vec![first, first + Duration::days(7), first + Duration::days(14)],
            "{text}"
        );
    }
    let s = Schedule::crontab("0 0 * * 5-7").unwrap();
    assert_eq!(
        weekdays(&s, saturday(), 3),
        vec![Weekday::Sun, Weekday::Fri, Weekday::Sat],
        "a range may end on 7"
    );
}

#[test]
fn names_for_common_schedules() {
    let from = at(2026, 5, 17, 13, 27, 5);
    let cases = [
        ("@hourly", at(2026, 5, 17, 14, 0, 0)),
        ("@daily", at(2026, 5, 18, 0, 0, 0)),
        ("@DAILY", at(2026, 5, 18, 0, 0, 0)),
        ("@weekly", at(2026, 5, 24, 0, 0, 0)), // the next Sunday
        ("@monthly", at(2026, 6, 1, 0, 0, 0)),
        ("@yearly", at(2027, 1, 1, 0, 0, 0)),
        ("@annually", at(2027, 1, 1, 0, 0, 0)),
    ];
    for (text, want) in cases {
        let s = Schedule::parse(text).unwrap();
        assert!(!s.is_legacy(), "{text}");
        assert_eq!(s.next_after(from), Some(want), "{text}");
        assert_eq!(
            Schedule::crontab(text).unwrap().next_after(from),
            Some(want)
        );
    }
    let daily = Schedule::crontab("@daily").unwrap();
    let five = Schedule::crontab("0 0 * * *").unwrap();
    assert_eq!(next(&daily, from, 5), next(&five, from, 5));
    let e = Schedule::parse("@reboot").unwrap_err().to_string();
    assert!(
        e.contains("\"@reboot\" is not one of") && e.contains("@daily"),
        "{e}"
    );
}

#[test]
fn day_of_month_or_day_of_week_in_crontab() {
    // crontab(5): both restricted means either; 2026-02-13 is a Friday
    let s = Schedule::crontab("0 0 13 * 5").unwrap();
    assert_eq!(
        next(&s, at(2026, 1, 1, 0, 0, 0), 3),
        vec![
            at(2026, 1, 2, 0, 0, 0),
            at(2026, 1, 9, 0, 0, 0),
            at(2026, 1, 13, 0, 0, 0)
        ]
    );
}

#[test]
fn the_old_six_field_form_keeps_its_meaning() {
    use Weekday::*;
    // seconds first, 1 = Sunday … 7 = Saturday, as the `cron` crate read it
    let s = Schedule::parse("0 0 2 * * Sun").unwrap();
    assert!(s.is_legacy());
    assert_eq!(
        next(&s, saturday(), 2),
        vec![at(2026, 1, 4, 2, 0, 0), at(2026, 1, 11, 2, 0, 0)]
    );
    let cases: [(&str, &[Weekday]); 6] = [
        ("0 0 8 * * 2-6", &[Mon, Tue, Wed, Thu, Fri, Mon]),
        ("0 0 8 * * Mon-Fri", &[Mon, Tue, Wed, Thu, Fri, Mon]),
        ("0 0 8 * * 1", &[Sun, Sun]),
        ("0 0 8 * * 7", &[Sat, Sat]),
        ("0 0 8 * * 1,7", &[Sat, Sun, Sat]),
        ("0 0 8 * * tuesday", &[Tue, Tue]),
    ];
    for (text, days) in cases {
        let s = Schedule::parse(text).unwrap();
        assert_eq!(weekdays(&s, saturday(), days.len()), days, "{text}");
    }
    // 0 was never a weekday there, and crontab's 1 = Monday does not apply
    assert!(Schedule::parse("0 0 8 * * 0").is_err());
    assert!(Schedule::parse("0 0 8 * * 8").is_err());
    // to the second
    let s = Schedule::parse("30 * * * * *").unwrap();
    assert_eq!(
        s.next_after(at(2026, 1, 1, 0, 0, 0)),
        Some(at(2026, 1, 1, 0, 0, 30))
    );
    assert_eq!(
        s.next_after(at(2026, 1, 1, 0, 0, 30)),
        Some(at(2026, 1, 1, 0, 1, 30))
    );
    // day of the month AND day of the week: Fridays the 13th
    let s = Schedule::parse("0 0 0 13 * 6").unwrap();
    assert_eq!(
        next(&s, at(2026, 1, 1, 0, 0, 0), 2),
        vec![at(2026, 2, 13, 0, 0, 0), at(2026, 3, 13, 0, 0, 0)]
    );
    // an optional seventh field, the year
    let s = Schedule::parse("0 0 0 1 1 * 2030").unwrap();
    assert_eq!(
        s.next_after(at(2026, 1, 1, 0, 0, 0)),
        Some(at(2030, 1, 1, 0, 0, 0))
    );
    // `start/step`
    let s = Schedule::parse("0 5/15 * * * *").unwrap();
    assert_eq!(
        next(&s, at(2026, 1, 1, 0, 0, 0), 4)
            .iter()
            .map(|t| t.format("%M").to_string())
            .collect::<Vec<_>>(),
        ["05", "20", "35", "50"]
    );
}

#[test]
fn the_old_form_is_only_for_agent_files() {
    let e = Schedule::crontab("0 0 8 * * Mon-Fri").unwrap_err();
    assert!(
        matches!(e, ScheduleError::FieldCount { count: 6, .. }),
        "{e}"
    );
    assert!(e.to_string().contains("6 field(s)"), "{e}");
}

#[test]
fn old_schedules_have_a_crontab_spelling_when_one_means_the_same() {
    let cases = [
        ("0 0 2 * * Sun", Some("0 2 * * Sun")),
        ("0 0 8 * * 2-6", Some("0 8 * * Mon-Fri")),
        ("0 0 8 * * 1,7", Some("0 8 * * Sun,Sat")),
        ("0 0 8 * * 2-6/2", Some("0 8 * * Mon-Fri/2")),
        ("0 0 8 * * */2", Some("0 8 * * */2")),
        ("0 0 8 ? * 2", Some("0 8 * * Mon")),
        ("0 * * * * *", Some("* * * * *")),
        ("0 0 12 1 january *", Some("0 12 1 Jan *")),
        ("30 * * * * *", None),     // not at second 0
        ("0 0 0 13 * 6", None),     // day of month AND of week
        ("0 0 0 1 1 * 2030", None), // a year
        ("0 0 8 * * 2/2", None),    // a step from one day reads differently
    ];
    let from = at(2026, 1, 1, 0, 0, 0);
    for (old, want) in cases {
        let s = Schedule::parse(old).unwrap();
        assert_eq!(s.crontab_form().as_deref(), want, "{old}");
        if let Some(five) = want {
            let c = Schedule::crontab(five).unwrap();
            assert_eq!(next(&c, from, 50), next(&s, from, 50), "{old} = {five}");
        }
    }
    assert_eq!(Schedule::parse("0 8 * * 1-5").unwrap().crontab_form(), None);
}

#[test]
fn utc_has_no_daylight_saving_time() {
    // 2026-03-29 and 2026-10-25: Europe's clocks change at 01:00 UTC; 2026-03-08 and
    // 2026-11-01 in the US. A UTC schedule runs once a day, 24 h apart, through all of them.
    for (text, from) in [
        ("30 2 * * *", at(2026, 3, 27, 0, 0, 0)),
        ("30 1 * * *", at(2026, 10, 23, 0, 0, 0)),
        ("0 2 * * *", at(2026, 3, 6, 0, 0, 0)),
        ("30 1 * * *", at(2026, 10, 30, 0, 0, 0)),
    ] {
        let s = Schedule::crontab(text).unwrap();
        let times = next(&s, from, 5);
        assert_eq!(times.len(), 5);
        for pair in times.windows(2) {
            assert_eq!(pair[1] - pair[0], Duration::hours(24), "{text}: {times:?}");
        }
    }
}

#[test]
fn next_is_strictly_after() {
    let s = Schedule::crontab("0 8 * * *").unwrap();
    let eight = at(2026, 1, 5, 8, 0, 0);
    assert_eq!(s.next_after(eight), Some(eight + Duration::days(1)));
    assert_eq!(
        s.next_after(eight - Duration::milliseconds(500)),
        Some(eight)
    );
    assert_eq!(
        s.next_after(eight + Duration::milliseconds(500)),
        Some(eight + Duration::days(1))
    );
}

#[test]
fn bad_schedules_say_what_and_how() {
    for (text, wants) in [
        (
            "0 8 * *",
            &["\"0 8 * *\" is not a valid cron schedule", "4 field"][..],
        ),
        ("", &["0 field"][..]),
        ("every sunday", &["every sunday", "2 field"][..]),
        (
            "61 8 * * *",
            &[
                "61 8 * * *",
                "the minute field \"61\" does not read",
                "0-59",
            ][..],
        ),
        ("0 25 * * *", &["hour field", "0-23"][..]),
        (
            "0 8 * * 9",
            &["day-of-week field \"9\"", "0 and 7 are Sunday"][..],
        ),
        (
            "0 0 8 * * 0",
            &["day-of-week field \"0\"", "1 is Sunday"][..],
        ),
        ("MON 8 * * *", &["\"MON\"", "minute field", "0-59"][..]),
        ("0 8 * Mon *", &["\"Mon\"", "month field"][..]),
        (
            "0 8 * * Funday",
            &["\"Funday\"", "day-of-week field", "Sun … Sat"][..],
        ),
    ] {
        let e = Schedule::parse(text).unwrap_err().to_string();
        for w in wants {
            assert!(e.contains(w), "{text:?}: {e}");
        }
    }
    assert!(Schedule::crontab("*/15 * * * *").is_ok());
    assert!(
        Schedule::crontab("0/30 8 * * *").is_ok(),
        "the cron crate took it"
    );
    assert_eq!(
        Schedule::crontab(" 0 8 * * 1-5 ").unwrap().as_str(),
        " 0 8 * * 1-5 "
    );
}
