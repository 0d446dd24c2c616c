//! `Edm.DateTimeOffset` values as MDE writes them.
//!
//! MDE answers in UTC with `Z` and up to seven fractional digits, trailing zeros dropped and no
//! fraction at all when it is zero (`2021-01-26T20:33:57.7220239Z`, `2023-04-25T22:52:11Z`).
//! Values are kept as 100 ns ticks since the Unix epoch, which is exactly that precision and
//! sorts as an integer in every store.

use std::fmt;

/// 100-nanosecond ticks since 1970-01-01T00:00:00Z.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp(pub i64);

pub const TICKS_PER_SECOND: i64 = 10_000_000;
const SECONDS_PER_DAY: i64 = 86_400;

/// Why a timestamp text was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("'{text}' is not a timestamp like 2021-01-26T20:33:57.7220239Z ({reason})")]
pub struct TimestampError {
    pub text: String,
    pub reason: &'static str,
}

impl Timestamp {
    pub fn from_unix_seconds(seconds: i64) -> Self {
        Timestamp(seconds * TICKS_PER_SECOND)
    }

    pub fn now() -> Self {
        let since = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default();
        Timestamp(since.as_secs() as i64 * TICKS_PER_SECOND + i64::from(since.subsec_nanos() / 100))
    }

    pub fn unix_seconds(self) -> i64 {
        self.0.div_euclid(TICKS_PER_SECOND)
    }

    pub fn minus_days(self, days: i64) -> Self {
        Timestamp(self.0 - days * SECONDS_PER_DAY * TICKS_PER_SECOND)
    }

    pub fn plus_seconds(self, seconds: i64) -> Self {
        Timestamp(self.0 + seconds * TICKS_PER_SECOND)
    }

    /// Parses RFC 3339 text (`T` or space, any offset, up to nine fractional digits; digits past
    /// the seventh are truncated, as .NET does) and the date-only forms `2018-08-01` and
    /// `2018-08-01Z` that MDE's own samples use.
    pub fn parse(text: &str) -> Result<Self, TimestampError> {
        let fail = |reason| TimestampError {
            text: text.to_string(),
            reason,
        };
        let b = text.as_bytes();
        let num = |range: std::ops::Range<usize>| -> Option<i64> {
            let digits = b.get(range)?;
            if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
                return None;
            }
            Some(digits.iter().fold(0i64, |acc, d| acc * 10 + i64::from(d - b'0')))
        };
        if b.len() < 10 || b[4] != b'-' || b[7] != b'-' {
            return Err(fail("expected YYYY-MM-DD"));
        }
        let (year, month, day) = match (num(0..4), num(5..7), num(8..10)) {
            (Some(y), Some(m), Some(d)) => (y, m, d),
            _ => return Err(fail("expected YYYY-MM-DD")),
        };
        if !(1..=12).contains(&month) || day < 1 || day > days_in_month(year, month) {
            return Err(fail("no such date"));
        }
        let days = days_from_civil(year, month, day);
        let rest = &b[10..];
        if rest.is_empty() || rest == b"Z" || rest == b"z" {
            return Ok(Timestamp(days * SECONDS_PER_DAY * TICKS_PER_SECOND));
        }
        if !(rest[0] == b'T' || rest[0] == b't' || rest[0] == b' ') || rest.len() < 9 {
            return Err(fail("expected THH:MM:SS after the date"));
        }
        if rest[3] != b':' || rest[6] != b':' {
            return Err(fail("expected THH:MM:SS after the date"));
        }
        let (hour, minute, second) = match (num(11..13), num(14..16), num(17..19)) {
            (Some(h), Some(m), Some(s)) if h < 24 && m < 60 && s < 60 => (h, m, s),
            _ => return Err(fail("no such time of day")),
        };
        let mut pos = 19;
        let mut fraction_ticks = 0i64;
        if b.get(pos) == Some(&b'.') {
            let start = pos + 1;
            let mut end = start;
            while end < b.len() && b[end].is_ascii_digit() {
                end += 1;
            }
            if end == start || end - start > 9 {
                return Err(fail("one to nine fractional digits"));
            }
            for (i, d) in b[start..end].iter().take(7).enumerate() {
                fraction_ticks += i64::from(d - b'0') * 10i64.pow(6 - i as u32);
            }
            pos = end;
        }
        let offset_seconds = match &b[pos..] {
            b"Z" | b"z" => 0,
            [sign @ (b'+' | b'-'), h1, h2, b':', m1, m2] => {
                let digits = [*h1, *h2, *m1, *m2];
                if !digits.iter().all(u8::is_ascii_digit) {
                    return Err(fail("bad UTC offset"));
                }
                let hours = i64::from(h1 - b'0') * 10 + i64::from(h2 - b'0');
                let minutes = i64::from(m1 - b'0') * 10 + i64::from(m2 - b'0');
                if hours > 23 || minutes > 59 {
                    return Err(fail("bad UTC offset"));
                }
                let magnitude = hours * 3600 + minutes * 60;
                if *sign == b'+' { magnitude } else { -magnitude }
            }
            [] => return Err(fail("missing Z or UTC offset")),
            _ => return Err(fail("bad UTC offset")),
        };
        let seconds = days * SECONDS_PER_DAY + hour * 3600 + minute * 60 + second - offset_seconds;
        Ok(Timestamp(seconds * TICKS_PER_SECOND + fraction_ticks))
    }
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let seconds = self.0.div_euclid(TICKS_PER_SECOND);
        let mut fraction = self.0.rem_euclid(TICKS_PER_SECOND);
        let days = seconds.div_euclid(SECONDS_PER_DAY);
        let of_day = seconds.rem_euclid(SECONDS_PER_DAY);
        let (year, month, day) = civil_from_days(days);
        write!(
            f,
            "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}",
            of_day / 3600,
            of_day / 60 % 60,
            of_day % 60
        )?;
        if fraction != 0 {
            let mut width = 7;
            while fraction % 10 == 0 {
                fraction /= 10;
                width -= 1;
            }
            write!(f, ".{fraction:0width$}")?;
        }
        f.write_str("Z")
    }
}

fn is_leap(year: i64) -> bool {
    (year % 4 == 0 && year % 100 != 0) || year % 400 == 0
}

fn days_in_month(year: i64, month: i64) -> i64 {
    match month {
        2 if is_leap(year) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

// Howard Hinnant's civil-calendar algorithms (public domain), proleptic Gregorian.
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_mde_samples() {
        for text in [
            "2021-01-26T20:33:57.7220239Z",
            "2021-01-25T07:27:36.052313Z",
            "2021-01-26T20:33:59.2Z",
            "2023-04-25T22:52:11Z",
            "1970-01-01T00:00:00Z",
            "1969-12-31T23:59:59.9999999Z",
            "2024-02-29T12:00:00.5Z",
        ] {
            assert_eq!(Timestamp::parse(text).unwrap().to_string(), text);
        }
    }

    #[test]
    fn normalises_offsets_and_extra_digits() {
        let t = Timestamp::parse("2021-01-26T21:33:57.722023999+01:00").unwrap();
        assert_eq!(t.to_string(), "2021-01-26T20:33:57.7220239Z");
        assert_eq!(
            Timestamp::parse("2018-08-01Z").unwrap().to_string(),
            "2018-08-01T00:00:00Z"
        );
        assert_eq!(
            Timestamp::parse("2018-08-01 10:00:00.000Z").unwrap().to_string(),
            "2018-08-01T10:00:00Z"
        );
        assert_eq!(
            Timestamp::from_unix_seconds(1_700_000_000).to_string(),
            "2023-11-14T22:13:20Z"
        );
    }

    #[test]
    fn refuses_bad_text() {
        for text in [
            "",
            "2021",
            "2021-13-01",
            "2021-02-30T00:00:00Z",
            "2021-01-01T24:00:00Z",
            "2021-01-01T00:00:00",
            "2021-01-01T00:00:00.Z",
            "2021-01-01T00:00:00+1:00",
            "2021-01-01T00:00:00.1234567890Z",
            "2021-01-01x",
            "2021-01-01T00:00:00Zjunk",
            "२०२१-01-01",
        ] {
            assert!(Timestamp::parse(text).is_err(), "{text} accepted");
        }
    }
}
