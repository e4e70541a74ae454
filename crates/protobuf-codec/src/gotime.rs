//! Time and duration text exactly as Go's apimachinery writes it in JSON: `metav1.Time` as RFC
//! 3339 in UTC with whole seconds, `metav1.MicroTime` with six fractional digits, and
//! `metav1.Duration` as Go's `time.Duration.String()` (`1h0m0s`, `1.5s`, `300ms`).

/// Formats seconds and nanoseconds since the Unix epoch; `None` if out of Go's range.
pub(crate) fn format_time(seconds: i64, nanos: i32, micro: bool) -> Option<String> {
    let timestamp = jiff::Timestamp::new(seconds, if micro { nanos } else { 0 }).ok()?;
    let whole = timestamp.strftime("%Y-%m-%dT%H:%M:%S").to_string();
    Some(if micro { format!("{whole}.{:06}Z", nanos / 1000) } else { format!("{whole}Z") })
}

/// Parses RFC 3339 text (any offset, optional fraction) into seconds and nanoseconds.
pub(crate) fn parse_time(text: &str) -> Option<(i64, i32)> {
    let timestamp: jiff::Timestamp = text.parse().ok()?;
    // Protobuf timestamps keep nanos non-negative, also before 1970.
    let (seconds, nanos) = (timestamp.as_second(), timestamp.subsec_nanosecond());
    Some(if nanos < 0 { (seconds - 1, nanos + 1_000_000_000) } else { (seconds, nanos) })
}

/// Go's `time.Duration.String()`.
pub(crate) fn format_duration(nanos: i64) -> String {
    let sign = if nanos < 0 { "-" } else { "" };
    let u = nanos.unsigned_abs();
    if u == 0 {
        return "0s".into();
    }
    if u < 1_000_000_000 {
        let (unit, prec) = match u {
            0..1_000 => ("ns", 0),
            1_000..1_000_000 => ("µs", 3),
            _ => ("ms", 6),
        };
        let (whole, frac) = split_fraction(u, prec);
        return format!("{sign}{whole}{frac}{unit}");
    }
    let (total_seconds, frac) = split_fraction(u, 9);
    let (hours, minutes, seconds) = (total_seconds / 3600, total_seconds / 60 % 60, total_seconds % 60);
    match (hours, total_seconds / 60) {
        (0, 0) => format!("{sign}{seconds}{frac}s"),
        (0, _) => format!("{sign}{minutes}m{seconds}{frac}s"),
        _ => format!("{sign}{hours}h{minutes}m{seconds}{frac}s"),
    }
}

/// Splits `value` into `value / 10^prec` and a `.ddd` fraction without trailing zeros.
fn split_fraction(value: u64, prec: u32) -> (u64, String) {
    let scale = 10u64.pow(prec);
    let fraction = value % scale;
    if fraction == 0 {
        return (value / scale, String::new());
    }
    let digits = format!("{fraction:0width$}", width = prec as usize);
    (value / scale, format!(".{}", digits.trim_end_matches('0')))
}

/// Go's `time.ParseDuration`: a sign, then numbers with units ns, us, µs, ms, s, m, h.
pub(crate) fn parse_duration(text: &str) -> Option<i64> {
    let (negative, mut rest) = match text.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, text.strip_prefix('+').unwrap_or(text)),
    };
    if rest == "0" {
        return Some(0);
    }
    if rest.is_empty() {
        return None;
    }
    let mut total: i128 = 0;
    while !rest.is_empty() {
        let number_len = rest.find(|c: char| !c.is_ascii_digit() && c != '.').unwrap_or(rest.len());
        let (number, after) = rest.split_at(number_len);
        let unit_len = after.find(|c: char| c.is_ascii_digit() || c == '.').unwrap_or(after.len());
        let (unit, after) = after.split_at(unit_len);
        let scale: i128 = match unit {
            "ns" => 1,
            "us" | "µs" | "μs" => 1_000,
            "ms" => 1_000_000,
            "s" => 1_000_000_000,
            "m" => 60_000_000_000,
            "h" => 3_600_000_000_000,
            _ => return None,
        };
        let (whole, fraction) = number.split_once('.').unwrap_or((number, ""));
        if whole.is_empty() && fraction.is_empty() {
            return None;
        }
        let whole: i128 = if whole.is_empty() { 0 } else { whole.parse().ok()? };
        let mut value = whole.checked_mul(scale)?;
        let mut place = scale;
        for digit in fraction.chars() {
            place /= 10;
            value += i128::from(digit.to_digit(10)?) * place;
        }
        total = total.checked_add(value)?;
        rest = after;
    }
    i64::try_from(if negative { -total } else { total }).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_match_go() {
        for (nanos, text) in [
            (0, "0s"),
            (1, "1ns"),
            (1_500, "1.5µs"),
            (300_000_000, "300ms"),
            (1_500_000_000, "1.5s"),
            (60_000_000_000, "1m0s"),
            (3_600_000_000_000, "1h0m0s"),
            (3_723_500_000_000, "1h2m3.5s"),
            (-90_000_000_000, "-1m30s"),
        ] {
            assert_eq!(format_duration(nanos), text);
            assert_eq!(parse_duration(text), Some(nanos), "{text}");
        }
        assert_eq!(parse_duration("1h30m"), Some(5_400_000_000_000));
        assert_eq!(parse_duration("10x"), None);
        assert_eq!(parse_duration(""), None);
    }

    #[test]
    fn times_match_go() {
        assert_eq!(format_time(1_704_164_645, 0, false).as_deref(), Some("2024-01-02T03:04:05Z"));
        assert_eq!(format_time(1_704_164_645, 123_456_789, true).as_deref(), Some("2024-01-02T03:04:05.123456Z"));
        assert_eq!(format_time(1_704_164_645, 0, true).as_deref(), Some("2024-01-02T03:04:05.000000Z"));
        assert_eq!(parse_time("2024-01-02T04:04:05+01:00"), Some((1_704_164_645, 0)));
        assert_eq!(parse_time("2024-01-02T03:04:05.5Z"), Some((1_704_164_645, 500_000_000)));
        assert_eq!(parse_time("yesterday"), None);
    }
}
