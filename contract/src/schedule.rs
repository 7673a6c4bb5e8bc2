//! Schedules people write (the tenant's `digestSchedule`, the agent's `digest.cron` and
//! `maintenance[].cron`): one dialect everywhere, crontab's, always in UTC.
//!
//! * **Five fields**, `minute hour day-of-month month day-of-week`, as crontab(5) reads them:
//!   day-of-week 0 or 7 = Sunday, 1 = Monday … 6 = Saturday (`1-5` = Monday to Friday), or
//!   the names `Sun` … `Sat`; months 1-12 or `Jan` … `Dec`. A restricted day-of-month and a
//!   restricted day-of-week match either (crontab's OR).
//! * **A name**: `@hourly`, `@daily`, `@weekly` (Sunday 00:00), `@monthly`, `@yearly` or
//!   `@annually`.
//! * **Six or seven fields** are the form vigil-agent read before (the `cron` crate's):
//!   `sec min hour day-of-month month day-of-week [year]`, day-of-week 1 = Sunday …
//!   7 = Saturday, day-of-month AND day-of-week. Agent files still take it, with the same
//!   meaning, as deprecated ([`Schedule::parse`]); [`Schedule::crontab_form`] gives the five
//!   fields to write instead. The tenant file never took it ([`Schedule::crontab`]).
//!
//! The field count tells the two apart, so no text means one thing in one file and another
//! thing in another. Parsing and the search for the next time are `croner`'s.
use std::fmt;

use chrono::{DateTime, Utc};
use croner::Cron;
use croner::parser::{CronParser, Seconds, Year};

/// How to write a schedule, for messages: what follows a [`ScheduleError`].
pub const HOW: &str = "write five fields, minute hour day-of-month month day-of-week (UTC; \
                       day-of-week 0 or 7 is Sunday, 1 is Monday), e.g. \"0 8 * * 1-5\" for \
                       08:00 Monday to Friday, or one of @hourly, @daily, @weekly, @monthly, \
                       @yearly";

/// Why a schedule does not read. The message says what is wrong; [`HOW`] says what to write.
#[derive(Debug, thiserror::Error)]
pub enum ScheduleError {
    #[error("{text:?} is not a valid cron schedule: it has {count} field(s)")]
    FieldCount { text: String, count: usize },
    #[error(
        "{text:?} is not a valid cron schedule: {name:?} is not one of @hourly, @daily, \
         @weekly, @monthly, @yearly, @annually"
    )]
    Alias { text: String, name: String },
    #[error(
        "{text:?} is not a valid cron schedule: {word:?} does not belong in the {field} field, \
         which takes {takes}"
    )]
    Word {
        text: String,
        word: String,
        field: &'static str,
        takes: &'static str,
    },
    #[error(
        "{text:?} is not a valid cron schedule: the {field} field {value:?} does not read \
         ({source}); it takes {takes}"
    )]
    Field {
        text: String,
        field: &'static str,
        value: String,
        takes: &'static str,
        #[source]
        source: croner::errors::CronError,
    },
    #[error("{text:?} is not a valid cron schedule ({source})")]
    Invalid {
        text: String,
        #[source]
        source: croner::errors::CronError,
    },
}

/// A parsed schedule, kept with its text.
#[derive(Debug, Clone)]
pub struct Schedule {
    text: String,
    cron: Cron,
    /// The deprecated six/seven-field form: its fields after name checks.
    legacy: Option<Vec<String>>,
}

const ALIASES: &[&str] = &[
    "@yearly",
    "@annually",
    "@monthly",
    "@weekly",
    "@daily",
    "@hourly",
];

/// Day names as the `cron` crate took them (it also took these long forms), by crontab number.
const DAYS: &[(&str, &[&str])] = &[
    ("Sun", &["sun", "sunday"]),
    ("Mon", &["mon", "monday"]),
    ("Tue", &["tue", "tues", "tuesday"]),
    ("Wed", &["wed", "wednesday"]),
    ("Thu", &["thu", "thurs", "thursday"]),
    ("Fri", &["fri", "friday"]),
    ("Sat", &["sat", "saturday"]),
];

const MONTHS: &[(&str, &[&str])] = &[
    ("Jan", &["jan", "january"]),
    ("Feb", &["feb", "february"]),
    ("Mar", &["mar", "march"]),
    ("Apr", &["apr", "april"]),
    ("May", &["may"]),
    ("Jun", &["jun", "june"]),
    ("Jul", &["jul", "july"]),
    ("Aug", &["aug", "august"]),
    ("Sep", &["sep", "september"]),
    ("Oct", &["oct", "october"]),
    ("Nov", &["nov", "november"]),
    ("Dec", &["dec", "december"]),
];

#[derive(Clone, Copy)]
enum Field {
    Second,
    Minute,
    Hour,
    DayOfMonth,
    Month,
    DayOfWeek,
    /// The old form's: 1 = Sunday.
    OldDayOfWeek,
    Year,
}

impl Field {
    fn name(self) -> &'static str {
        match self {
            Field::Second => "second",
            Field::Minute => "minute",
            Field::Hour => "hour",
            Field::DayOfMonth => "day-of-month",
            Field::Month => "month",
            Field::DayOfWeek | Field::OldDayOfWeek => "day-of-week",
            Field::Year => "year",
        }
    }

    fn takes(self) -> &'static str {
        match self {
            Field::Second | Field::Minute => "0-59",
            Field::Hour => "0-23",
            Field::DayOfMonth => "1-31, L (the last day) or 15W (the weekday nearest the 15th)",
            Field::Month => "1-12 or Jan … Dec",
            Field::DayOfWeek => "0-7 (0 and 7 are Sunday, 1 is Monday) or Sun … Sat",
            Field::OldDayOfWeek => "1-7 (1 is Sunday, 7 is Saturday) or Sun … Sat",
            Field::Year => "years such as 2030",
        }
    }

    /// The canonical spelling of a word this field takes, if it takes it.
    fn word(self, word: &str) -> Option<&'static str> {
        let lower = word.to_ascii_lowercase();
        let named = |table: &'static [(&'static str, &'static [&'static str])]| {
            table
                .iter()
                .find(|(_, forms)| forms.contains(&lower.as_str()))
                .map(|(canonical, _)| *canonical)
        };
        match self {
            Field::DayOfMonth => match lower.as_str() {
                "l" => Some("L"),
                "w" => Some("W"),
                "lw" => Some("LW"),
                _ => None,
            },
            Field::Month => named(MONTHS),
            Field::DayOfWeek | Field::OldDayOfWeek if lower == "l" => Some("L"),
            Field::DayOfWeek | Field::OldDayOfWeek => named(DAYS),
            _ => None,
        }
    }
}

const CRONTAB: [Field; 5] = [
    Field::Minute,
    Field::Hour,
    Field::DayOfMonth,
    Field::Month,
    Field::DayOfWeek,
];

const LEGACY: [Field; 7] = [
    Field::Second,
    Field::Minute,
    Field::Hour,
    Field::DayOfMonth,
    Field::Month,
    Field::OldDayOfWeek,
    Field::Year,
];

/// Checks the words of each field and spells names one way (`monday` → `Mon`): croner
/// replaces names anywhere in the text, so `MON` in the minute field would read as 1.
fn check_words(text: &str, fields: &[&str], kinds: &[Field]) -> Result<Vec<String>, ScheduleError> {
    fields
        .iter()
        .zip(kinds)
        .map(|(field, kind)| {
            let mut out = String::new();
            let mut rest = *field;
            while let Some(start) = rest.find(|c: char| c.is_ascii_alphabetic()) {
                out.push_str(&rest[..start]);
                let word_len = rest[start..]
                    .find(|c: char| !c.is_ascii_alphabetic())
                    .unwrap_or(rest.len() - start);
                let word = &rest[start..start + word_len];
                let canonical = kind.word(word).ok_or_else(|| ScheduleError::Word {
                    text: text.to_owned(),
                    word: word.to_owned(),
                    field: kind.name(),
                    takes: kind.takes(),
                })?;
                out.push_str(canonical);
                rest = &rest[start + word_len..];
            }
            out.push_str(rest);
            Ok(out)
        })
        .collect()
}

impl Schedule {
    /// A crontab schedule: five fields or an `@` name. What the tenant file takes.
    pub fn crontab(text: &str) -> Result<Schedule, ScheduleError> {
        let fields: Vec<&str> = text.split_whitespace().collect();
        match fields.as_slice() {
            [alias] if alias.starts_with('@') => Self::alias(text, alias),
            [_, _, _, _, _] => Self::five(text, &fields),
            _ => Err(ScheduleError::FieldCount {
                text: text.to_owned(),
                count: fields.len(),
            }),
        }
    }

    /// A crontab schedule, or the deprecated six/seven-field form with seconds first (see the
    /// module's documentation). What the agent's own files take.
    pub fn parse(text: &str) -> Result<Schedule, ScheduleError> {
        let fields: Vec<&str> = text.split_whitespace().collect();
        match fields.len() {
            6 | 7 => Self::legacy(text, &fields),
            _ => Self::crontab(text),
        }
    }

    fn alias(text: &str, alias: &str) -> Result<Schedule, ScheduleError> {
        let lower = alias.to_ascii_lowercase();
        if !ALIASES.contains(&lower.as_str()) {
            return Err(ScheduleError::Alias {
                text: text.to_owned(),
                name: alias.to_owned(),
            });
        }
        let cron = crontab_parser()
            .parse(&lower)
            .map_err(|source| ScheduleError::Invalid {
                text: text.to_owned(),
                source,
            })?;
        Ok(Schedule {
            text: text.to_owned(),
            cron,
            legacy: None,
        })
    }

    fn five(text: &str, fields: &[&str]) -> Result<Schedule, ScheduleError> {
        let fields = check_words(text, fields, &CRONTAB)?;
        let cron = parse_fields(text, &fields, &CRONTAB, crontab_parser())?;
        Ok(Schedule {
            text: text.to_owned(),
            cron,
            legacy: None,
        })
    }

    fn legacy(text: &str, fields: &[&str]) -> Result<Schedule, ScheduleError> {
        let fields = check_words(text, fields, &LEGACY)?;
        // the `cron` crate's reading: seconds first, an optional year, 1 = Sunday … 7 =
        // Saturday (croner's Quartz weekdays), day-of-month AND day-of-week, `5/15` steps
        let parser = CronParser::builder()
            .seconds(Seconds::Required)
            .year(Year::Optional)
            .alternative_weekdays(true)
            .dom_and_dow(true)
            .sloppy_ranges(true)
            .build();
        let cron = parse_fields(text, &fields, &LEGACY, parser)?;
        Ok(Schedule {
            text: text.to_owned(),
            cron,
            legacy: Some(fields),
        })
    }

    /// The schedule as written.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// Whether it is written in the deprecated six/seven-field form.
    pub fn is_legacy(&self) -> bool {
        self.legacy.is_some()
    }

    /// The five crontab fields meaning the same as this deprecated schedule, if there are:
    /// not when it fires at a second other than 0, names a year, or restricts both the day of
    /// the month and of the week (the old form matched both, crontab matches either).
    /// Day-of-week numbers become names, which read the same in either numbering.
    pub fn crontab_form(&self) -> Option<String> {
        let fields = self.legacy.as_ref()?;
        let [sec, min, hour, dom, month, dow, rest @ ..] = fields.as_slice() else {
            return None;
        };
        let any = |f: &str| f == "*" || f == "?";
        if sec != "0" || rest.iter().any(|y| !any(y)) || (!any(dom) && !any(dow)) {
            return None;
        }
        let star = |f: &str| if any(f) { "*".to_owned() } else { f.to_owned() };
        let five = format!(
            "{min} {hour} {} {month} {}",
            star(dom),
            named_days(&star(dow))?
        );
        Schedule::crontab(&five).ok().map(|_| five)
    }

    /// The first time strictly after `after` that the schedule names, if any.
    pub fn next_after(&self, after: DateTime<Utc>) -> Option<DateTime<Utc>> {
        self.cron.find_next_occurrence(&after, false).ok()
    }
}

/// An old day-of-week field with its numbers (1 = Sunday … 7 = Saturday) as names. Steps
/// from a single start (`2/2`) and `#`/`L` have no spelling that reads the same in both
/// numberings, so they give `None`.
fn named_days(dow: &str) -> Option<String> {
    let day = |d: &str| -> Option<String> {
        match d.parse::<usize>() {
            Ok(n) => n
                .checked_sub(1)
                .and_then(|i| DAYS.get(i))
                .map(|(name, _)| (*name).to_owned()),
            Err(_) if d == "*" || DAYS.iter().any(|(name, _)| *name == d) => Some(d.to_owned()),
            Err(_) => None,
        }
    };
    let items: Option<Vec<String>> = dow
        .split(',')
        .map(|item| {
            let (range, step) = match item.split_once('/') {
                Some((r, s)) => (r, Some(s)),
                None => (item, None),
            };
            if step.is_some() && range != "*" && !range.contains('-') {
                return None;
            }
            let range = range
                .split('-')
                .map(day)
                .collect::<Option<Vec<_>>>()?
                .join("-");
            Some(match step {
                Some(s) => format!("{range}/{s}"),
                None => range,
            })
        })
        .collect();
    Some(items?.join(","))
}

/// Parses the checked fields; when that fails, names the first field that fails alone.
fn parse_fields(
    text: &str,
    fields: &[String],
    kinds: &[Field],
    parser: CronParser,
) -> Result<Cron, ScheduleError> {
    parser.parse(&fields.join(" ")).map_err(|source| {
        let fails_alone = |i: usize| {
            let only: Vec<&str> = fields
                .iter()
                .enumerate()
                .map(|(j, f)| if j == i { f.as_str() } else { "*" })
                .collect();
            parser.parse(&only.join(" ")).is_err()
        };
        let culprit = (0..fields.len())
            .find(|&i| fails_alone(i))
            .and_then(|i| Some((kinds.get(i)?, fields.get(i)?)));
        match culprit {
            Some((kind, value)) => ScheduleError::Field {
                text: text.to_owned(),
                field: kind.name(),
                value: value.clone(),
                takes: kind.takes(),
                source,
            },
            None => ScheduleError::Invalid {
                text: text.to_owned(),
                source,
            },
        }
    })
}

fn crontab_parser() -> CronParser {
    // `0/10` (from 0, every 10) is not crontab(5) but the `cron` crate took it, and it
    // reads one way only
    CronParser::builder()
        .seconds(Seconds::Disallowed)
        .year(Year::Disallowed)
        .sloppy_ranges(true)
        .build()
}

impl fmt::Display for Schedule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

#[cfg(test)]
mod tests;
