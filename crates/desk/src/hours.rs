//! Opening hours and holidays, and time counted only while the brand is open.
//!
//! The brand's clock is a fixed offset from UTC (Brazil has kept `-03:00` all year since 2019);
//! a brand in a zone with summer time sets the offset it keeps most of the year. Times in and out
//! are UTC milliseconds.

use chrono::{Datelike, NaiveDate};
use std::collections::{BTreeMap, HashSet};

const MINUTE: i64 = 60_000;
const DAY: i64 = 86_400_000;
/// How far a deadline is searched for: a year of closed days means "never due".
const MAX_DAYS: i64 = 400;
const WEEKDAYS: [&str; 7] = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BusinessHours {
    offset_ms: i64,
    /// Per weekday (Monday first): open intervals as minutes of the day, sorted, not overlapping.
    week: [Vec<(i64, i64)>; 7],
    /// Closed days, as days since 1970-01-01 on the brand's clock.
    holidays: HashSet<i64>,
}

impl Default for BusinessHours {
    /// Monday to Friday 09:00–18:00 at `-03:00`, no holidays.
    fn default() -> Self {
        let day = vec![(9 * 60, 18 * 60)];
        BusinessHours {
            offset_ms: -3 * 60 * MINUTE,
            week: [
                day.clone(),
                day.clone(),
                day.clone(),
                day.clone(),
                day,
                Vec::new(),
                Vec::new(),
            ],
            holidays: HashSet::new(),
        }
    }
}

impl BusinessHours {
    /// Open every minute of every day, in UTC.
    pub fn always() -> Self {
        BusinessHours {
            offset_ms: 0,
            week: std::array::from_fn(|_| vec![(0, 24 * 60)]),
            holidays: HashSet::new(),
        }
    }

    /// Builds the hours from their written form: `offset` like `-03:00`; `week` maps `mon`…`sun`
    /// to `09:00-18:00` (several intervals separated by commas; a day left out is closed);
    /// `holidays` are `YYYY-MM-DD`.
    pub fn parse(
        offset: &str,
        week: &BTreeMap<String, String>,
        holidays: &[String],
    ) -> Result<Self, String> {
        let offset_ms = parse_offset(offset)?;
        let mut days: [Vec<(i64, i64)>; 7] = Default::default();
        for (name, spec) in week {
            let Some(i) = WEEKDAYS.iter().position(|d| d == name) else {
                return Err(format!(
                    "hours: {name:?} is not a weekday (mon, tue, wed, thu, fri, sat, sun)"
                ));
            };
            let mut intervals = Vec::new();
            for part in spec.split(',').map(str::trim).filter(|p| !p.is_empty()) {
                let (a, b) = part
                    .split_once('-')
                    .ok_or_else(|| format!("hours.{name}: {part:?} is not like 09:00-18:00"))?;
                let (a, b) = (parse_clock(a.trim())?, parse_clock(b.trim())?);
                if a >= b {
                    return Err(format!("hours.{name}: {part:?} closes before it opens"));
                }
                intervals.push((a, b));
            }
            intervals.sort_unstable();
            if intervals.windows(2).any(|w| w[1].0 < w[0].1) {
                return Err(format!("hours.{name}: intervals overlap"));
            }
            days[i] = intervals;
        }
        let mut closed = HashSet::new();
        for h in holidays {
            let d = NaiveDate::parse_from_str(h.trim(), "%Y-%m-%d")
                .map_err(|_| format!("holidays: {h:?} is not a date like 2026-12-25"))?;
            closed.insert(epoch_day(d));
        }
        Ok(BusinessHours {
            offset_ms,
            week: days,
            holidays: closed,
        })
    }

    /// The open intervals of local day `day` (days since the epoch), as local milliseconds.
    fn open_on(&self, day: i64) -> impl Iterator<Item = (i64, i64)> + '_ {
        let weekday = (day + 3).rem_euclid(7) as usize; // 1970-01-01 was a Thursday
        let closed = self.holidays.contains(&day);
        self.week[weekday]
            .iter()
            .filter(move |_| !closed)
            .map(move |&(a, b)| (day * DAY + a * MINUTE, day * DAY + b * MINUTE))
    }

    fn never_open(&self) -> bool {
        self.week.iter().all(Vec::is_empty)
    }

    /// Milliseconds between `start` and `end` during which the brand was open.
    pub fn between(&self, start: i64, end: i64) -> i64 {
        if end <= start {
            return 0;
        }
        let (s, e) = (start + self.offset_ms, end + self.offset_ms);
        let first = s.div_euclid(DAY);
        let last = (e - 1).div_euclid(DAY);
        if last - first > 3 * MAX_DAYS {
            // Only absurd inputs span years; the work is capped rather than the answer exact.
            return self.between(start, start + 3 * MAX_DAYS * DAY);
        }
        let mut total = 0;
        for day in first..=last {
            for (a, b) in self.open_on(day) {
                total += (b.min(e) - a.max(s)).max(0);
            }
        }
        total
    }

    /// The moment `budget` open milliseconds after `start` have passed; `None` if the brand is
    /// never open within a year.
    pub fn after(&self, start: i64, budget: i64) -> Option<i64> {
        if self.never_open() {
            return None;
        }
        let s = start + self.offset_ms;
        let mut left = budget.max(0);
        let first = s.div_euclid(DAY);
        for day in first..first + MAX_DAYS {
            for (a, b) in self.open_on(day) {
                let from = a.max(s);
                if from >= b {
                    continue;
                }
                if left <= b - from {
                    return Some(from + left - self.offset_ms);
                }
                left -= b - from;
            }
        }
        None
    }

    /// The local hour of the day (0–23) of a UTC time, on the brand's clock.
    pub fn local_hour(&self, at: i64) -> u8 {
        ((at + self.offset_ms).rem_euclid(DAY) / (60 * MINUTE)) as u8
    }
}

fn epoch_day(d: NaiveDate) -> i64 {
    i64::from(d.num_days_from_ce()) - 719_163
}

fn parse_clock(s: &str) -> Result<i64, String> {
    let bad = || format!("{s:?} is not a time like 09:30");
    let (h, m) = s.split_once(':').ok_or_else(bad)?;
    let (h, m): (i64, i64) = (h.parse().map_err(|_| bad())?, m.parse().map_err(|_| bad())?);
    if !(0..=24).contains(&h) || !(0..60).contains(&m) || (h == 24 && m != 0) {
        return Err(bad());
    }
    Ok(h * 60 + m)
}

fn parse_offset(s: &str) -> Result<i64, String> {
    let bad = || format!("utc_offset {s:?} is not like -03:00");
    let (sign, rest) = match s.as_bytes().first() {
        Some(b'+') => (1, &s[1..]),
        Some(b'-') => (-1, &s[1..]),
        _ => return Err(bad()),
    };
    let minutes = parse_clock(rest).map_err(|_| bad())?;
    if minutes > 14 * 60 {
        return Err(bad());
    }
    Ok(sign * minutes * MINUTE)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// UTC milliseconds of a local time at -03:00.
    fn at(date: &str, hm: &str) -> i64 {
        let d = NaiveDate::parse_from_str(date, "%Y-%m-%d").unwrap();
        epoch_day(d) * DAY + parse_clock(hm).unwrap() * MINUTE + 3 * 60 * MINUTE
    }

    fn brazil() -> BusinessHours {
        let week: BTreeMap<String, String> = [
            ("mon", "09:00-18:00"),
            ("tue", "09:00-18:00"),
            ("wed", "09:00-18:00"),
            ("thu", "09:00-18:00"),
            ("fri", "09:00-12:00, 13:00-18:00"),
            ("sat", "09:00-13:00"),
        ]
        .into_iter()
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .collect();
        BusinessHours::parse("-03:00", &week, &["2026-12-25".into()]).unwrap()
    }

    #[test]
    fn counts_only_open_time() {
        let h = brazil();
        // 2026-11-23 is a Monday.
        assert_eq!(
            h.between(at("2026-11-23", "08:00"), at("2026-11-23", "10:00")),
            60 * MINUTE
        );
        // Monday 17:00 to Tuesday 10:00: one hour each day.
        assert_eq!(
            h.between(at("2026-11-23", "17:00"), at("2026-11-24", "10:00")),
            2 * 60 * MINUTE
        );
        // Friday's lunch break does not count.
        assert_eq!(
            h.between(at("2026-11-27", "11:00"), at("2026-11-27", "14:00")),
            2 * 60 * MINUTE
        );
        // Saturday afternoon and Sunday are closed.
        assert_eq!(
            h.between(at("2026-11-28", "13:00"), at("2026-11-30", "09:00")),
            0
        );
        // Christmas (a Friday) is closed all day.
        assert_eq!(
            h.between(at("2026-12-25", "00:00"), at("2026-12-26", "00:00")),
            0
        );
        assert_eq!(h.between(10, 5), 0);
    }

    #[test]
    fn deadlines_skip_closed_time() {
        let h = brazil();
        // A message at Friday 17:30 with a 1 h target is due Saturday 09:30.
        assert_eq!(
            h.after(at("2026-11-27", "17:30"), 60 * MINUTE),
            Some(at("2026-11-28", "09:30"))
        );
        // Saturday 12:30 + 1 h: half an hour Saturday, the rest Monday.
        assert_eq!(
            h.after(at("2026-11-28", "12:30"), 60 * MINUTE),
            Some(at("2026-11-30", "09:30"))
        );
        // Christmas Eve 17:00 + 2 h: Thursday 1 h, Friday is a holiday, Saturday 1 h.
        assert_eq!(
            h.after(at("2026-12-24", "17:00"), 2 * 60 * MINUTE),
            Some(at("2026-12-26", "10:00"))
        );
        // Before opening: the clock starts at opening.
        assert_eq!(
            h.after(at("2026-11-23", "03:00"), 0),
            Some(at("2026-11-23", "09:00"))
        );
        // `after` and `between` agree.
        let start = at("2026-11-26", "16:10");
        for minutes in [1, 59, 60, 61, 300, 1000, 5000] {
            let due = h.after(start, minutes * MINUTE).unwrap();
            assert_eq!(h.between(start, due), minutes * MINUTE, "{minutes}");
        }
    }

    #[test]
    fn local_hours_and_always_open() {
        let h = brazil();
        assert_eq!(h.local_hour(at("2026-11-23", "14:59")), 14);
        assert_eq!(h.local_hour(at("2026-11-23", "00:10")), 0);
        let a = BusinessHours::always();
        assert_eq!(a.between(0, DAY * 3), DAY * 3);
        assert_eq!(a.after(5, 10), Some(15));
        let closed = BusinessHours::parse("+00:00", &BTreeMap::new(), &[]).unwrap();
        assert_eq!(closed.after(0, 1), None);
    }

    #[test]
    fn bad_hours_are_refused_with_where() {
        let week = |d: &str, s: &str| [(d.to_string(), s.to_string())].into_iter().collect();
        let e = BusinessHours::parse("-03:00", &week("funday", "09:00-10:00"), &[]).unwrap_err();
        assert!(e.contains("funday"), "{e}");
        let e = BusinessHours::parse("-03:00", &week("mon", "18:00-09:00"), &[]).unwrap_err();
        assert!(e.contains("closes before"), "{e}");
        let e = BusinessHours::parse("-03:00", &week("mon", "9-10"), &[]).unwrap_err();
        assert!(e.contains("not a time"), "{e}");
        let e = BusinessHours::parse("-03:00", &week("mon", "09:00-12:00,11:00-13:00"), &[])
            .unwrap_err();
        assert!(e.contains("overlap"), "{e}");
        assert!(BusinessHours::parse("3", &BTreeMap::new(), &[]).is_err());
        assert!(BusinessHours::parse("-03:00", &BTreeMap::new(), &["25/12".into()]).is_err());
    }
}
