//! Resource quantities (`500m`, `2`, `1Gi`, `1e3`) as integers: cpu in millicores, every
//! other resource in whole units (bytes, pods), rounded up as upstream's `Value()` does.

/// `quantity` in thousandths of a unit (cpu millicores); `None` if it does not parse.
pub fn parse_milli(quantity: &str) -> Option<i64> {
    let (mantissa, scale) = split(quantity.trim())?;
    Some(round_up(mantissa * scale * 1000.0))
}

/// `quantity` in whole units, rounded up (bytes for memory and storage).
pub fn parse_units(quantity: &str) -> Option<i64> {
    let (mantissa, scale) = split(quantity.trim())?;
    Some(round_up(mantissa * scale))
}

fn round_up(value: f64) -> i64 {
    // Tolerate float noise such as 0.1 * 1000 = 100.00000000000001.
    let rounded = value.round();
    if (value - rounded).abs() < 1e-6 { rounded as i64 } else { value.ceil() as i64 }
}

fn split(quantity: &str) -> Option<(f64, f64)> {
    const SUFFIXES: &[(&str, f64)] = &[
        ("Ki", 1024.0),
        ("Mi", 1048576.0),
        ("Gi", 1073741824.0),
        ("Ti", 1099511627776.0),
        ("Pi", 1125899906842624.0),
        ("Ei", 1152921504606846976.0),
        ("n", 1e-9),
        ("u", 1e-6),
        ("m", 1e-3),
        ("k", 1e3),
        ("M", 1e6),
        ("G", 1e9),
        ("T", 1e12),
        ("P", 1e15),
        ("E", 1e18),
    ];
    for (suffix, scale) in SUFFIXES {
        if let Some(number) = quantity.strip_suffix(suffix) {
            return number.parse::<f64>().ok().filter(|n| n.is_finite()).map(|n| (n, *scale));
        }
    }
    // Plain numbers and decimal exponents (`1e3`, `1E3`).
    quantity.parse::<f64>().ok().filter(|n| n.is_finite()).map(|n| (n, 1.0))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpu_in_millicores() {
        assert_eq!(parse_milli("100m"), Some(100));
        assert_eq!(parse_milli("2"), Some(2000));
        assert_eq!(parse_milli("0.1"), Some(100));
        assert_eq!(parse_milli("1.5"), Some(1500));
        assert_eq!(parse_milli("bogus"), None);
    }

    #[test]
    fn memory_in_bytes() {
        assert_eq!(parse_units("32Gi"), Some(32 * 1024 * 1024 * 1024));
        assert_eq!(parse_units("128M"), Some(128_000_000));
        assert_eq!(parse_units("1e3"), Some(1000));
        assert_eq!(parse_units("110"), Some(110));
    }
}
