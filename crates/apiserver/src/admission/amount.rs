//! Resource amounts for admission arithmetic: a quantity's exact value plus the format it
//! was written in, so sums and messages print as upstream's `Quantity.String()` does
//! (`500m`, `1536Mi`, `2`).

use resources::quantity::Quantity;
use std::fmt;

/// How an amount prints: upstream's `resource.Format`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// `n`, `u`, `m`, ``, `k`, `M`, ... suffixes.
    DecimalSI,
    /// `Ki`, `Mi`, ... suffixes.
    BinarySI,
    /// `e3` exponents.
    DecimalExponent,
}

/// A quantity in nano-units with its display format.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Amount {
    pub nanos: i128,
    pub format: Format,
}

const NANOS_PER_UNIT: i128 = 1_000_000_000;

impl Amount {
    pub const ZERO: Amount = Amount { nanos: 0, format: Format::DecimalSI };

    pub fn parse(s: &str) -> Option<Amount> {
        let nanos = Quantity::parse(s)?.nanos();
        let suffix = s.trim().trim_start_matches(|c: char| c.is_ascii_digit() || matches!(c, '.' | '+' | '-'));
        let format = if suffix.ends_with('i') {
            Format::BinarySI
        } else if suffix.starts_with(['e', 'E']) {
            Format::DecimalExponent
        } else {
            Format::DecimalSI
        };
        Some(Amount { nanos, format })
    }

    /// A whole count (object counts, `pods`).
    pub fn count(n: usize) -> Amount {
        Amount {
            nanos: i128::try_from(n).unwrap_or(i128::MAX / NANOS_PER_UNIT) * NANOS_PER_UNIT,
            format: Format::DecimalSI,
        }
    }

    /// The sum; a zero left side takes the right side's format, as upstream's `Add` does.
    pub fn add(self, other: Amount) -> Amount {
        let format = if self.nanos == 0 { other.format } else { self.format };
        Amount { nanos: self.nanos.saturating_add(other.nanos), format }
    }

    pub fn sub(self, other: Amount) -> Amount {
        Amount { nanos: self.nanos.saturating_sub(other.nanos), format: self.format }
    }

    /// The value in milli-units, rounded up (upstream's `MilliValue`).
    pub fn milli(self) -> i128 {
        let per_milli = 1_000_000;
        self.nanos.div_euclid(per_milli) + i128::from(self.nanos.rem_euclid(per_milli) != 0)
    }
}

impl fmt::Display for Amount {
    /// Upstream's canonical form: the largest suffix that keeps the number whole.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.nanos == 0 {
            return f.write_str("0");
        }
        let whole = self.nanos % NANOS_PER_UNIT == 0;
        if self.format == Format::BinarySI && whole && self.nanos.abs() >= 1024 * NANOS_PER_UNIT {
            let mut value = self.nanos / NANOS_PER_UNIT;
            let mut power = 0;
            while power < 6 && value % 1024 == 0 {
                value /= 1024;
                power += 1;
            }
            return write!(f, "{value}{}", ["", "Ki", "Mi", "Gi", "Ti", "Pi", "Ei"][power]);
        }
        // Decimal: mantissa × 10^exponent with the exponent a multiple of three.
        let mut mantissa = self.nanos;
        let mut exponent = -9;
        while exponent < 18 && mantissa % 1000 == 0 {
            mantissa /= 1000;
            exponent += 3;
        }
        if self.format == Format::DecimalExponent {
            return if exponent == 0 { write!(f, "{mantissa}") } else { write!(f, "{mantissa}e{exponent}") };
        }
        let suffix = match exponent {
            -9 => "n",
            -6 => "u",
            -3 => "m",
            0 => "",
            3 => "k",
            6 => "M",
            9 => "G",
            12 => "T",
            15 => "P",
            _ => "E",
        };
        write!(f, "{mantissa}{suffix}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn canonical(s: &str) -> String {
        Amount::parse(s).unwrap().to_string()
    }

    #[test]
    fn prints_as_upstream_canonicalizes() {
        assert_eq!(canonical("500m"), "500m");
        assert_eq!(canonical("0.5"), "500m");
        assert_eq!(canonical("1000m"), "1");
        assert_eq!(canonical("1Gi"), "1Gi");
        assert_eq!(canonical("1024Mi"), "1Gi");
        assert_eq!(canonical("1536Mi"), "1536Mi");
        assert_eq!(canonical("512"), "512");
        assert_eq!(canonical("2000"), "2k");
        assert_eq!(canonical("1e3"), "1e3");
        assert_eq!(canonical("0"), "0");
        assert_eq!(canonical("100Ki"), "100Ki");
    }

    #[test]
    fn sums_keep_the_first_nonzero_format() {
        let sum = Amount::ZERO.add(Amount::parse("512Mi").unwrap()).add(Amount::parse("512Mi").unwrap());
        assert_eq!(sum.to_string(), "1Gi");
        let cpu = Amount::parse("250m").unwrap().add(Amount::parse("750m").unwrap());
        assert_eq!(cpu.to_string(), "1");
        assert_eq!(Amount::parse("1.0001m").unwrap().milli(), 2);
        assert_eq!(Amount::count(3).to_string(), "3");
    }
}
