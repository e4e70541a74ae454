//! When a CronJob should have started a Job (upstream's `mostRecentScheduleTime` and
//! `nextScheduleTime`): the latest schedule time not yet run, within the starting deadline.

use super::schedule::Schedule;
use jiff::tz::TimeZone;
use jiff::{SignedDuration, Timestamp};

/// More missed start times than this are reported (upstream's warning threshold).
pub const TOO_MANY_MISSED: usize = 100;

/// What is due at `now`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Due {
    /// The most recent schedule time after the last run, if any.
    pub scheduled: Option<Timestamp>,
    /// How many schedule times were passed since the last run (including `scheduled`),
    /// counted up to [`TOO_MANY_MISSED`] + 1.
    pub missed: usize,
}

/// The schedule time to run at `now`: the latest one after `last_schedule` (or the
/// CronJob's creation), but not earlier than `starting_deadline` before `now`.
pub fn due(
    schedule: &Schedule,
    tz: &TimeZone,
    created: Timestamp,
    last_schedule: Option<Timestamp>,
    starting_deadline: Option<i64>,
    now: Timestamp,
) -> Due {
    let mut earliest = last_schedule.unwrap_or(created);
    if let Some(deadline) = starting_deadline {
        earliest = earliest.max(now - SignedDuration::from_secs(deadline));
    }
    let mut due = Due { scheduled: None, missed: 0 };
    let mut t = earliest;
    while let Some(next) = schedule.next_after(t, tz).filter(|next| *next <= now) {
        due.scheduled = Some(next);
        due.missed += 1;
        t = next;
        // Beyond the threshold only the latest time matters: jump close to `now`.
        if due.missed > TOO_MANY_MISSED {
            let near_now = now - SignedDuration::from_secs(2 * 24 * 3600);
            if near_now > t {
                t = near_now;
            }
        }
    }
    due
}

/// Whether a run scheduled for `scheduled` may no longer start at `now`.
pub fn too_late(scheduled: Timestamp, starting_deadline: Option<i64>, now: Timestamp) -> bool {
    starting_deadline.is_some_and(|d| scheduled + SignedDuration::from_secs(d) < now)
}

/// The name of the Job for the run at `scheduled`: the CronJob's name and the time in
/// minutes since the epoch (upstream's `getJobName`).
pub fn job_name(cronjob: &str, scheduled: Timestamp) -> String {
    format!("{cronjob}-{}", scheduled.as_second().div_euclid(60))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> Timestamp {
        s.parse().unwrap()
    }

    #[test]
    fn the_latest_missed_time_is_due() {
        let every_5 = Schedule::parse("*/5 * * * *").unwrap();
        let d = due(&every_5, &TimeZone::UTC, at("2025-01-01T10:00:00Z"), None, None, at("2025-01-01T10:17:00Z"));
        assert_eq!(d, Due { scheduled: Some(at("2025-01-01T10:15:00Z")), missed: 3 });
        let last = Some(at("2025-01-01T10:15:00Z"));
        let d = due(&every_5, &TimeZone::UTC, at("2025-01-01T10:00:00Z"), last, None, at("2025-01-01T10:17:00Z"));
        assert_eq!(d, Due { scheduled: None, missed: 0 }, "already run");
    }

    #[test]
    fn the_starting_deadline_bounds_how_far_back_runs_are_made_up() {
        let hourly = Schedule::parse("@hourly").unwrap();
        let created = at("2025-01-01T00:00:00Z");
        let now = at("2025-01-01T10:30:00Z");
        let d = due(&hourly, &TimeZone::UTC, created, None, Some(600), now);
        assert_eq!(d.scheduled, None, "10:00 is more than 600 s ago");
        let d = due(&hourly, &TimeZone::UTC, created, None, Some(3600), now);
        assert_eq!(d, Due { scheduled: Some(at("2025-01-01T10:00:00Z")), missed: 1 });
        assert!(too_late(at("2025-01-01T10:00:00Z"), Some(600), now));
        assert!(!too_late(at("2025-01-01T10:00:00Z"), None, now));
    }

    #[test]
    fn many_missed_times_are_counted_and_the_latest_still_runs() {
        let minutely = Schedule::parse("* * * * *").unwrap();
        let now = at("2025-01-10T00:00:30Z");
        let d = due(&minutely, &TimeZone::UTC, at("2025-01-01T00:00:00Z"), None, None, now);
        assert_eq!(d.scheduled, Some(at("2025-01-10T00:00:00Z")));
        assert!(d.missed > TOO_MANY_MISSED);
    }

    #[test]
    fn time_zones_shift_the_schedule() {
        let nine = Schedule::parse("0 9 * * *").unwrap();
        let tokyo = TimeZone::get("Asia/Tokyo").unwrap();
        let d = due(&nine, &tokyo, at("2025-01-01T00:00:00Z"), None, None, at("2025-01-01T01:00:00Z"));
        assert_eq!(d.scheduled, None, "a schedule time equal to the creation time is not due");
        let d = due(&nine, &tokyo, at("2024-12-31T23:00:00Z"), None, None, at("2025-01-01T01:00:00Z"));
        assert_eq!(d.scheduled, Some(at("2025-01-01T00:00:00Z")), "09:00 in Tokyo is midnight UTC");
    }

    #[test]
    fn job_names_count_minutes_since_the_epoch() {
        assert_eq!(job_name("hello", at("2025-01-01T00:00:00Z")), "hello-28928160");
    }
}
