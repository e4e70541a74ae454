//! Resource quantities (`500m`, `1Gi`, `2e3`) as exact numbers, for the comparisons
//! validation and QoS classification make. Parsing follows upstream's
//! `resource.ParseQuantity` grammar; values are held in nano-units so every suffix
//! upstream accepts is represented exactly.

use std::cmp::Ordering;

/// A parsed quantity, in units of 10⁻⁹.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Quantity(i128);

impl Quantity {
    pub const ZERO: Quantity = Quantity(0);

    /// Parse upstream's quantity syntax: a signed decimal number, then an optional
    /// binary (`Ki`..`Ei`), decimal (`n`, `u`, `m`, `k`..`E`) or exponent (`e3`) suffix.
    /// Fractions finer than a nano-unit round up, as upstream's milli-scale rounding does.
    pub fn parse(s: &str) -> Option<Quantity> {
        let s = s.trim();
        let (negative, rest) = match s.as_bytes().first()? {
            b'-' => (true, &s[1..]),
            b'+' => (false, &s[1..]),
            _ => (false, s),
        };
        let number_len = rest.find(|c: char| !c.is_ascii_digit() && c != '.').unwrap_or(rest.len());
        let (number, suffix) = rest.split_at(number_len);
        let (whole, frac) = number.split_once('.').unwrap_or((number, ""));
        if whole.is_empty() && frac.is_empty() || frac.contains('.') {
            return None;
        }
        let mantissa: i128 = format!("{whole}{frac}").parse().ok()?;
        let (multiplier, decimal_exponent) = suffix_scale(suffix)?;
        // value = mantissa × 10^(decimal_exponent − frac digits) × multiplier, in nano-units.
        let exponent = decimal_exponent + 9 - i32::try_from(frac.len()).ok()?;
        let scaled = mantissa.checked_mul(multiplier)?;
        let nanos = if exponent >= 0 {
            scaled.checked_mul(10i128.checked_pow(exponent.unsigned_abs())?)?
        } else {
            let divisor = 10i128.checked_pow(exponent.unsigned_abs())?;
            (scaled + divisor - 1) / divisor
        };
        Some(Quantity(if negative { -nanos } else { nanos }))
    }

    /// The value in units of 10⁻⁹, for arithmetic and formatting beyond comparisons.
    pub fn nanos(self) -> i128 {
        self.0
    }

    pub fn is_positive(self) -> bool {
        self.0 > 0
    }

    pub fn checked_add(self, other: Quantity) -> Option<Quantity> {
        self.0.checked_add(other.0).map(Quantity)
    }
}

/// A suffix's binary multiplier and decimal exponent.
fn suffix_scale(suffix: &str) -> Option<(i128, i32)> {
    let binary = |power: u32| Some((1i128 << (10 * power), 0));
    match suffix {
        "" => Some((1, 0)),
        "Ki" => binary(1),
        "Mi" => binary(2),
        "Gi" => binary(3),
        "Ti" => binary(4),
        "Pi" => binary(5),
        "Ei" => binary(6),
        "n" => Some((1, -9)),
        "u" => Some((1, -6)),
        "m" => Some((1, -3)),
        "k" => Some((1, 3)),
        "M" => Some((1, 6)),
        "G" => Some((1, 9)),
        "T" => Some((1, 12)),
        "P" => Some((1, 15)),
        "E" => Some((1, 18)),
        _ => {
            let exponent = suffix.strip_prefix(['e', 'E'])?;
            Some((1, exponent.parse().ok()?))
        }
    }
}

/// Compare two quantity strings; `None` when either does not parse.
pub fn compare(a: &str, b: &str) -> Option<Ordering> {
    Some(Quantity::parse(a)?.cmp(&Quantity::parse(b)?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suffixes_compare_exactly() {
        assert_eq!(compare("500m", "0.5"), Some(Ordering::Equal));
        assert_eq!(compare("1Gi", "1073741824"), Some(Ordering::Equal));
        assert_eq!(compare("1k", "1e3"), Some(Ordering::Equal));
        assert_eq!(compare("100Mi", "1G"), Some(Ordering::Less));
        assert_eq!(compare("2", "1"), Some(Ordering::Greater));
        assert!(Quantity::parse("0").is_some_and(|q| !q.is_positive()));
        assert!(Quantity::parse("-1").is_some_and(|q| !q.is_positive()));
        assert_eq!(Quantity::parse("abc"), None);
        assert_eq!(Quantity::parse("1.2.3"), None);
    }
}
