//! CronJob schedules as upstream's cron library reads them (`cron.ParseStandard`): five
//! fields (minute, hour, day of month, month, day of week) of lists, ranges, steps and
//! month/weekday names, or a descriptor (`@hourly`, `@daily`, … and `@every <duration>`),
//! and the next time a schedule fires after a given time in a time zone.

use jiff::civil::{Date, DateTime, Time};
use jiff::tz::TimeZone;
use jiff::{SignedDuration, Timestamp, ToSpan};

const MONTHS: &[&str] = &["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"];
const WEEKDAYS: &[&str] = &["sun", "mon", "tue", "wed", "thu", "fri", "sat"];
/// How far ahead a schedule is searched before it is taken to never fire (upstream's cron
/// library gives up after five years too, e.g. for `0 0 30 2 *`).
const SEARCH_YEARS: i16 = 5;

/// Why a schedule does not parse.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("{0}")]
pub struct ParseError(String);

/// A parsed schedule.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Schedule {
    /// The fields as bit sets (bit n: value n is allowed).
    Fields {
        minutes: u64,
        hours: u64,
        days_of_month: u64,
        months: u64,
        days_of_week: u64,
        /// Either day field was `*` or `?`: a day must then match both fields, otherwise either.
        any_day_star: bool,
    },
    /// `@every <duration>`: fires every duration after the previous time.
    Every(SignedDuration),
}

impl Schedule {
    pub fn parse(spec: &str) -> Result<Schedule, ParseError> {
        let spec = spec.trim();
        let expanded = match spec {
            "@yearly" | "@annually" => "0 0 1 1 *",
            "@monthly" => "0 0 1 * *",
            "@weekly" => "0 0 * * 0",
            "@daily" | "@midnight" => "0 0 * * *",
            "@hourly" => "0 * * * *",
            _ if spec.starts_with("@every ") => return parse_every(&spec["@every ".len()..]),
            _ if spec.starts_with('@') => return Err(ParseError(format!("unrecognized descriptor: {spec}"))),
            _ => spec,
        };
        let fields: Vec<&str> = expanded.split_whitespace().collect();
        let [minute, hour, dom, month, dow] = fields.as_slice() else {
            return Err(ParseError(format!(
                "expected exactly 5 fields, found {}: [{}]",
                fields.len(),
                fields.join(" ")
            )));
        };
        let (days_of_month, dom_star) = parse_field(dom, 1, 31, &[])?;
        let (days_of_week, dow_star) = parse_field(dow, 0, 6, WEEKDAYS)?;
        Ok(Schedule::Fields {
            minutes: parse_field(minute, 0, 59, &[])?.0,
            hours: parse_field(hour, 0, 23, &[])?.0,
            days_of_month,
            months: parse_field(month, 1, 12, MONTHS)?.0,
            days_of_week,
            any_day_star: dom_star || dow_star,
        })
    }

    /// The first time strictly after `after` that the schedule fires, reading the fields in
    /// `tz`; `None` if it never fires within five years.
    pub fn next_after(&self, after: Timestamp, tz: &TimeZone) -> Option<Timestamp> {
        let Schedule::Fields { minutes, hours, days_of_month, months, days_of_week, any_day_star } = *self else {
            let Schedule::Every(every) = self else { unreachable!("two variants") };
            // Upstream rounds the start down to the second and the delay up to at least one.
            let start = Timestamp::from_second(after.as_second()).ok()?;
            return start.checked_add((*every).max(SignedDuration::from_secs(1))).ok();
        };
        let has = |set: u64, value: i8| set & (1 << value) != 0;
        let day_matches = |date: Date| {
            let dom = has(days_of_month, date.day());
            let dow = has(days_of_week, date.weekday().to_sunday_zero_offset());
            if any_day_star { dom && dow } else { dom || dow }
        };
        let local = after.to_zoned(tz.clone()).datetime();
        let mut t = local.with().second(0).subsec_nanosecond(0).build().ok()?.checked_add(1.minute()).ok()?;
        let limit = local.year().saturating_add(SEARCH_YEARS);
        while t.year() <= limit {
            if !has(months, t.month()) {
                t = DateTime::from_parts(t.date().first_of_month().checked_add(1.month()).ok()?, Time::midnight());
            } else if !day_matches(t.date()) {
                t = DateTime::from_parts(t.date().tomorrow().ok()?, Time::midnight());
            } else if !has(hours, t.hour()) {
                t = t.with().minute(0).build().ok()?.checked_add(1.hour()).ok()?;
            } else if !has(minutes, t.minute()) {
                t = t.checked_add(1.minute()).ok()?;
            } else {
                // A time skipped by a DST change fires at the first instant after the gap;
                // a repeated one fires the first time it occurs after `after`.
                let instant = tz.to_ambiguous_timestamp(t).compatible().ok()?;
                if instant > after {
                    return Some(instant);
                }
                t = t.checked_add(1.minute()).ok()?;
            }
        }
        None
    }
}

fn parse_every(duration: &str) -> Result<Schedule, ParseError> {
    duration
        .trim()
        .parse::<SignedDuration>()
        .ok()
        .filter(|d| d.is_positive())
        .map(Schedule::Every)
        .ok_or_else(|| ParseError(format!("failed to parse duration @every {duration}")))
}

/// A comma-separated list of `*`, `?`, values, ranges and steps, as a bit set, and whether
/// the field is a star (which matters for the day fields).
fn parse_field(field: &str, min: i8, max: i8, names: &[&str]) -> Result<(u64, bool), ParseError> {
    let mut bits = 0;
    let mut star = false;
    for part in field.split(',') {
        let (range, step) = match part.split_once('/') {
            Some((range, step)) => (range, Some(step)),
            None => (part, None),
        };
        let value = |s: &str| -> Result<i8, ParseError> {
            if let Some(i) = names.iter().position(|n| n.eq_ignore_ascii_case(s)) {
                return Ok(i as i8 + min);
            }
            s.parse::<i8>().map_err(|_| {
                ParseError(format!("failed to parse int from {s}: strconv.Atoi: parsing {s:?}: invalid syntax"))
            })
        };
        let is_star = range == "*" || range == "?";
        let (lo, mut hi) = if is_star {
            (min, max)
        } else {
            match range.split_once('-') {
                Some((lo, hi)) => (value(lo)?, value(hi)?),
                None => (value(range)?, value(range)?),
            }
        };
        let step = match step {
            None => 1,
            Some(s) => {
                let step = s.parse::<u8>().map_err(|_| {
                    ParseError(format!("failed to parse int from {s}: strconv.Atoi: parsing {s:?}: invalid syntax"))
                })?;
                // `N/step` means N through the maximum.
                if !is_star && !range.contains('-') {
                    hi = max;
                }
                step
            }
        };
        if lo < min {
            return Err(ParseError(format!("beginning of range ({lo}) below minimum ({min}): {part}")));
        }
        if hi > max {
            return Err(ParseError(format!("end of range ({hi}) above maximum ({max}): {part}")));
        }
        if lo > hi {
            return Err(ParseError(format!("beginning of range ({lo}) beyond end of range ({hi}): {part}")));
        }
        if step == 0 {
            return Err(ParseError(format!("step of range should be a positive number: {part}")));
        }
        star |= is_star && step == 1;
        bits |= (lo..=hi).step_by(step.into()).fold(0u64, |acc, v| acc | 1 << v);
    }
    Ok((bits, star))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> Timestamp {
        s.parse().unwrap()
    }

    fn next(spec: &str, after: &str, tz: &str) -> String {
        let tz = TimeZone::get(tz).unwrap();
        let t = Schedule::parse(spec).unwrap().next_after(at(after), &tz).unwrap();
        t.to_zoned(tz).strftime("%Y-%m-%dT%H:%M%:z").to_string()
    }

    #[test]
    fn fields_support_lists_ranges_steps_and_names() {
        assert_eq!(next("* * * * *", "2025-01-01T10:00:30Z", "UTC"), "2025-01-01T10:01+00:00");
        assert_eq!(next("*/15 * * * *", "2025-01-01T10:16:00Z", "UTC"), "2025-01-01T10:30+00:00");
        assert_eq!(next("5,10-12 3 * * *", "2025-01-01T03:10:00Z", "UTC"), "2025-01-01T03:11+00:00");
        assert_eq!(next("0 9 * * MON-FRI", "2025-01-03T09:00:00Z", "UTC"), "2025-01-06T09:00+00:00");
        assert_eq!(next("0 0 1 jun *", "2025-01-03T09:00:00Z", "UTC"), "2025-06-01T00:00+00:00");
        assert_eq!(next("30 2/6 * * *", "2025-01-01T09:00:00Z", "UTC"), "2025-01-01T14:30+00:00");
    }

    #[test]
    fn descriptors_expand_to_fields() {
        assert_eq!(next("@hourly", "2025-01-01T10:00:00Z", "UTC"), "2025-01-01T11:00+00:00");
        assert_eq!(next("@daily", "2025-01-01T10:00:00Z", "UTC"), "2025-01-02T00:00+00:00");
        assert_eq!(next("@weekly", "2025-01-01T10:00:00Z", "UTC"), "2025-01-05T00:00+00:00");
        assert_eq!(next("@yearly", "2025-01-01T10:00:00Z", "UTC"), "2026-01-01T00:00+00:00");
        assert_eq!(next("@every 90m", "2025-01-01T10:00:00.5Z", "UTC"), "2025-01-01T11:30+00:00");
    }

    #[test]
    fn restricted_days_of_month_and_week_match_either() {
        // The 13th or a Friday: Friday 2025-01-03 comes first.
        assert_eq!(next("0 0 13 * 5", "2025-01-01T00:00:00Z", "UTC"), "2025-01-03T00:00+00:00");
        // A star in either day field makes the other one decide.
        assert_eq!(next("0 0 13 * *", "2025-01-01T00:00:00Z", "UTC"), "2025-01-13T00:00+00:00");
        assert_eq!(next("0 0 * * 5", "2025-01-04T00:00:00Z", "UTC"), "2025-01-10T00:00+00:00");
    }

    #[test]
    fn time_zones_place_the_fields_in_local_time() {
        assert_eq!(next("0 9 * * *", "2025-01-01T00:00:00Z", "Europe/Paris"), "2025-01-01T09:00+01:00");
        assert_eq!(next("0 9 * * *", "2025-07-01T00:00:00Z", "America/New_York"), "2025-07-01T09:00-04:00");
        // 02:30 does not exist on 2025-03-09 in New York: the job runs right after the gap.
        assert_eq!(next("30 2 * * *", "2025-03-09T05:00:00Z", "America/New_York"), "2025-03-09T03:30-04:00");
    }

    #[test]
    fn impossible_dates_never_fire() {
        let s = Schedule::parse("0 0 30 2 *").unwrap();
        assert_eq!(s.next_after(at("2025-01-01T00:00:00Z"), &TimeZone::UTC), None);
    }

    #[test]
    fn bad_schedules_say_why_as_upstream() {
        let err = |s: &str| Schedule::parse(s).unwrap_err().to_string();
        assert_eq!(err("* * * *"), "expected exactly 5 fields, found 4: [* * * *]");
        assert_eq!(err("60 * * * *"), "end of range (60) above maximum (59): 60");
        assert_eq!(err("@fortnightly"), "unrecognized descriptor: @fortnightly");
        assert_eq!(err("*/0 * * * *"), "step of range should be a positive number: */0");
        assert_eq!(err("x * * * *"), "failed to parse int from x: strconv.Atoi: parsing \"x\": invalid syntax");
    }
}
