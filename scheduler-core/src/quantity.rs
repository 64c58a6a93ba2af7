//! Kubernetes resource quantities (`500m`, `1.5Gi`, `1e3`), parsed exactly as `k8s.io/apimachinery` does.
//!
//! A [`Quantity`] holds its exact value in nano-units (`i128`). Parsing follows `ParseQuantity`: an optional
//! sign, digits with an optional fraction, then a decimal SI suffix (`n u m k M G T P E`), a binary SI suffix
//! (`Ki Mi Gi Ti Pi Ei`) or a decimal exponent (`e3`, `E-2`). A non-zero magnitude is rounded up to a whole
//! nano-unit, and magnitudes above `2^63 − 1` units are capped there, as upstream does.
//! [`Quantity::value`] and [`Quantity::milli_value`] round away from zero, like upstream's `Value()` and
//! `MilliValue()`; the latter saturates at `i64::MAX` instead of overflowing.

use std::fmt;

const NANOS_PER_UNIT: i128 = 1_000_000_000;
const MAX_UNITS: i128 = i64::MAX as i128;
const MAX_NANOS: i128 = MAX_UNITS * NANOS_PER_UNIT;

/// Upstream's `splitREString`, quoted by [`QuantityError::Format`].
const FORMAT_REGEX: &str = "^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$";

/// Why a string is not a quantity. The messages are upstream's.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum QuantityError {
    /// Upstream `ErrFormatWrong`.
    #[error("quantities must match the regular expression '{FORMAT_REGEX}'")]
    Format,
    /// Upstream `ErrSuffix`.
    #[error("unable to parse quantity's suffix")]
    Suffix,
}

/// An exact Kubernetes quantity.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug, Default)]
pub struct Quantity {
    nanos: i128,
}

impl Quantity {
    /// Zero.
    pub const ZERO: Quantity = Quantity { nanos: 0 };

    /// Parses a quantity string exactly as `resource.ParseQuantity` does.
    pub fn parse(s: &str) -> Result<Quantity, QuantityError> {
        parse(s)
    }

    /// A quantity of `units` whole units.
    pub fn from_units(units: i64) -> Quantity {
        Quantity { nanos: i128::from(units) * NANOS_PER_UNIT }
    }

    /// A quantity of `milli` thousandths of a unit.
    pub fn from_milli(milli: i64) -> Quantity {
        Quantity { nanos: i128::from(milli) * 1_000_000 }
    }

    /// A quantity of `nanos` nano-units, capped to the range upstream allows.
    pub fn from_nanos(nanos: i128) -> Quantity {
        Quantity { nanos: nanos.clamp(-MAX_NANOS, MAX_NANOS) }
    }

    /// The exact value in nano-units.
    pub fn nanos(self) -> i128 {
        self.nanos
    }

    /// The value in whole units, rounded away from zero (upstream `Value()`).
    pub fn value(self) -> i64 {
        scale_away_from_zero(self.nanos, NANOS_PER_UNIT)
    }

    /// The value in thousandths, rounded away from zero and saturating (upstream `MilliValue()`).
    pub fn milli_value(self) -> i64 {
        scale_away_from_zero(self.nanos, 1_000_000)
    }
}

impl std::str::FromStr for Quantity {
    type Err = QuantityError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        parse(s)
    }
}

impl fmt::Display for Quantity {
    /// A canonical spelling that parses back to the same value: binary suffixes for exact multiples of 1024,
    /// else the largest decimal suffix that keeps the number whole.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let nanos = self.nanos;
        if nanos == 0 {
            return f.write_str("0");
        }
        if nanos % NANOS_PER_UNIT == 0 {
            let units = nanos / NANOS_PER_UNIT;
            let mut exp = 0;
            let mut mantissa = units;
            while exp < 6 && mantissa % 1024 == 0 {
                mantissa /= 1024;
                exp += 1;
            }
            if exp > 0 {
                const BIN: [&str; 7] = ["", "Ki", "Mi", "Gi", "Ti", "Pi", "Ei"];
                return write!(f, "{mantissa}{}", BIN[exp]);
            }
        }
        const DEC: [&str; 10] = ["n", "u", "m", "", "k", "M", "G", "T", "P", "E"];
        let mut mantissa = nanos;
        let mut idx = 0;
        while idx < DEC.len() - 1 && mantissa % 1000 == 0 {
            mantissa /= 1000;
            idx += 1;
        }
        write!(f, "{mantissa}{}", DEC[idx])
    }
}

/// Formats a CPU amount in millicores the way `kubectl` shows it: `100m`, `4`, `2500m`.
pub fn format_milli(milli: i64) -> String {
    Quantity::from_milli(milli).to_string()
}

/// Formats a byte count: `32Gi`, `500Mi`, `1G`, `123`.
pub fn format_units(units: i64) -> String {
    Quantity::from_units(units).to_string()
}

fn scale_away_from_zero(nanos: i128, divisor: i128) -> i64 {
    let magnitude = nanos.unsigned_abs().div_ceil(divisor as u128);
    let magnitude = i64::try_from(magnitude).unwrap_or(i64::MAX);
    if nanos < 0 { -magnitude } else { magnitude }
}

struct Parts<'a> {
    negative: bool,
    num: &'a str,
    denom: &'a str,
    suffix: &'a str,
}

/// Upstream `parseQuantityString`, quirks included: `"-"`, `"+"` and `"."` are zero, `"1."` is one.
fn split(s: &str) -> Result<Parts<'_>, QuantityError> {
    let bytes = s.as_bytes();
    let end = bytes.len();
    let mut pos = 0;
    let mut negative = false;
    match bytes.first() {
        Some(b'-') => {
            negative = true;
            pos += 1;
        }
        Some(b'+') => pos += 1,
        _ => {}
    }
    while pos < end && bytes[pos] == b'0' {
        pos += 1;
    }
    if pos >= end {
        return Ok(Parts { negative, num: "0", denom: "", suffix: "" });
    }
    let num_start = pos;
    while pos < end && bytes[pos].is_ascii_digit() {
        pos += 1;
    }
    let num = if pos == num_start { "0" } else { &s[num_start..pos] };
    let mut denom = "";
    if pos < end && bytes[pos] == b'.' {
        pos += 1;
        let denom_start = pos;
        while pos < end && bytes[pos].is_ascii_digit() {
            pos += 1;
        }
        denom = &s[denom_start..pos];
    }
    let suffix_start = pos;
    while pos < end && b"eEinumkKMGTP".contains(&bytes[pos]) {
        pos += 1;
    }
    if pos < end && (bytes[pos] == b'-' || bytes[pos] == b'+') {
        pos += 1;
    }
    while pos < end && bytes[pos].is_ascii_digit() {
        pos += 1;
    }
    if pos < end {
        return Err(QuantityError::Format);
    }
    Ok(Parts { negative, num, denom, suffix: &s[suffix_start..] })
}

enum Multiplier {
    Decimal(i64),
    Binary(u32),
}

/// Upstream `suffixHandler.interpret`.
fn interpret(suffix: &str) -> Option<Multiplier> {
    let decimal = match suffix {
        "n" => Some(-9),
        "u" => Some(-6),
        "m" => Some(-3),
        "" => Some(0),
        "k" => Some(3),
        "M" => Some(6),
        "G" => Some(9),
        "T" => Some(12),
        "P" => Some(15),
        "E" => Some(18),
        _ => None,
    };
    if let Some(exp) = decimal {
        return Some(Multiplier::Decimal(exp));
    }
    let binary = match suffix {
        "Ki" => Some(10),
        "Mi" => Some(20),
        "Gi" => Some(30),
        "Ti" => Some(40),
        "Pi" => Some(50),
        "Ei" => Some(60),
        _ => None,
    };
    if let Some(exp) = binary {
        return Some(Multiplier::Binary(exp));
    }
    let rest = suffix.strip_prefix(['e', 'E'])?;
    // Upstream parses the exponent as int64 and truncates it to int32.
    let exp = crate::intern::parse_go_int64(rest)?;
    Some(Multiplier::Decimal(i64::from(exp as i32)))
}

fn parse(s: &str) -> Result<Quantity, QuantityError> {
    if s.is_empty() {
        return Err(QuantityError::Format);
    }
    let parts = split(s)?;
    let multiplier = interpret(parts.suffix).ok_or(QuantityError::Suffix)?;
    // The magnitude is digits × 10^exp10 × 2^exp2 nano-units, computed exactly on decimal digit strings.
    let mut digits: Vec<u8> = parts.num.bytes().chain(parts.denom.bytes()).map(|b| b - b'0').collect();
    let mut exp10 = 9 - parts.denom.len() as i64;
    let mut exp2 = 0;
    match multiplier {
        Multiplier::Decimal(exp) => exp10 += exp,
        Multiplier::Binary(exp) => exp2 = exp,
    }
    strip_leading_zeros(&mut digits);
    if digits.is_empty() {
        return Ok(Quantity::ZERO);
    }
    while digits.last() == Some(&0) {
        digits.pop();
        exp10 += 1;
    }
    for _ in 0..exp2 {
        double(&mut digits);
    }
    let magnitude = if exp10 >= 0 {
        // digits followed by exp10 zeros: capped once it has more digits than the cap.
        let len = digits.len() as i64 + exp10;
        if len > 39 {
            MAX_NANOS
        } else {
            let mut v = to_u128(&digits);
            for _ in 0..exp10 {
                v = v.saturating_mul(10);
            }
            v.min(MAX_NANOS as u128) as i128
        }
    } else {
        let frac_len = exp10.unsigned_abs() as usize;
        let (int_part, frac_part) =
            if frac_len >= digits.len() { (&[][..], &digits[..]) } else { digits.split_at(digits.len() - frac_len) };
        if int_part.len() > 39 {
            MAX_NANOS
        } else {
            let round_up = frac_part.iter().any(|&d| d != 0);
            let v = to_u128(int_part).saturating_add(u128::from(round_up));
            v.min(MAX_NANOS as u128) as i128
        }
    };
    Ok(Quantity { nanos: if parts.negative { -magnitude } else { magnitude } })
}

fn strip_leading_zeros(digits: &mut Vec<u8>) {
    let first = digits.iter().position(|&d| d != 0).unwrap_or(digits.len());
    digits.drain(..first);
}

/// Doubles a big-endian decimal digit string in place.
fn double(digits: &mut Vec<u8>) {
    let mut carry = 0;
    for d in digits.iter_mut().rev() {
        let v = *d * 2 + carry;
        *d = v % 10;
        carry = v / 10;
    }
    if carry > 0 {
        digits.insert(0, carry);
    }
}

/// At most 39 digits; saturates.
fn to_u128(digits: &[u8]) -> u128 {
    digits.iter().fold(0u128, |acc, &d| acc.saturating_mul(10).saturating_add(u128::from(d)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn check(input: &str, nanos: i128) {
        assert_eq!(Quantity::parse(input), Ok(Quantity { nanos }), "{input:?}");
    }

    fn check_err(input: &str, err: QuantityError) {
        assert_eq!(Quantity::parse(input), Err(err), "{input:?}");
    }

    const G: i128 = 1_000_000_000;

    #[test]
    fn plain_numbers() {
        check("0", 0);
        check("1", G);
        check("100", 100 * G);
        check("+5", 5 * G);
        check("-5", -5 * G);
        check("007", 7 * G);
    }

    #[test]
    fn decimal_suffixes() {
        check("100m", 100_000_000);
        check("1n", 1);
        check("1u", 1000);
        check("2k", 2000 * G);
        check("3M", 3_000_000 * G);
        check("1G", 1_000_000_000 * G);
        check("1T", 1_000_000_000_000 * G);
        check("1P", 1_000_000_000_000_000 * G);
        check("1E", 1_000_000_000_000_000_000 * G);
    }

    #[test]
    fn binary_suffixes() {
        check("1Ki", 1024 * G);
        check("500Mi", 500 * 1024 * 1024 * G);
        check("32Gi", 32 * (1 << 30) * G);
        check("1.5Gi", 1_610_612_736 * G);
        check("1Ti", (1 << 40) * G);
        check("1Pi", (1 << 50) * G);
        check("1Ei", (1 << 60) * G);
    }

    #[test]
    fn fractions_and_exponents() {
        check("0.5", 500_000_000);
        check(".5", 500_000_000);
        check("1.", G);
        check("1.5", 1_500_000_000);
        check("1e3", 1000 * G);
        check("1E3", 1000 * G);
        check("1e-3", 1_000_000);
        check("1.5e+2", 150 * G);
        check("2.5m", 2_500_000);
    }

    #[test]
    fn upstream_quirks_parse_as_zero() {
        check("-", 0);
        check("+", 0);
        check(".", 0);
        check("000", 0);
        check("0.0", 0);
    }

    #[test]
    fn below_one_nano_rounds_up() {
        check("0.1n", 1);
        check("1e-10", 1);
        check("-0.1n", -1);
        check("0.0000000001Ki", 103);
        check("1.0000000001", G + 1);
    }

    #[test]
    fn huge_values_are_capped_at_int64_max_units() {
        check("9223372036854775807", MAX_NANOS);
        check("9223372036854775808", MAX_NANOS);
        check("16Ei", MAX_NANOS);
        check("1e100", MAX_NANOS);
        check("-1e100", -MAX_NANOS);
        check("123456789012345678901234567890123456789012345678901234567890", MAX_NANOS);
    }

    #[test]
    fn malformed_strings() {
        check_err("", QuantityError::Format);
        check_err("abc", QuantityError::Format);
        check_err("1.5.5", QuantityError::Format);
        check_err("5Gix", QuantityError::Format);
        check_err(" 1", QuantityError::Format);
        check_err("1 ", QuantityError::Format);
        check_err("1Gi2", QuantityError::Suffix);
        check_err("1iG", QuantityError::Suffix);
        check_err("1e", QuantityError::Suffix);
        check_err("1KiB", QuantityError::Format);
        check_err("1ki", QuantityError::Suffix);
    }

    #[test]
    fn value_and_milli_value_round_away_from_zero() {
        let q = |s: &str| Quantity::parse(s).unwrap();
        assert_eq!(q("100m").milli_value(), 100);
        assert_eq!(q("100m").value(), 1);
        assert_eq!(q("1.5").milli_value(), 1500);
        assert_eq!(q("0.1m").milli_value(), 1);
        assert_eq!(q("-0.1m").milli_value(), -1);
        assert_eq!(q("-100m").value(), -1);
        assert_eq!(q("500Mi").value(), 524_288_000);
        assert_eq!(q("1E").milli_value(), i64::MAX);
    }

    #[test]
    fn display_is_canonical() {
        let show = |s: &str| Quantity::parse(s).unwrap().to_string();
        assert_eq!(show("100m"), "100m");
        assert_eq!(show("4"), "4");
        assert_eq!(show("4000m"), "4");
        assert_eq!(show("1.5Gi"), "1536Mi");
        assert_eq!(show("32Gi"), "32Gi");
        assert_eq!(show("1G"), "1G");
        assert_eq!(show("1500"), "1500");
        assert_eq!(show("2500m"), "2500m");
        assert_eq!(show("-1Ki"), "-1Ki");
        assert_eq!(show("0"), "0");
        assert_eq!(format_milli(250), "250m");
        assert_eq!(format_units(512 * 1024 * 1024), "512Mi");
    }

    proptest! {
        #[test]
        fn display_round_trips(nanos in -MAX_NANOS..=MAX_NANOS) {
            let q = Quantity { nanos };
            prop_assert_eq!(Quantity::parse(&q.to_string()), Ok(q));
        }

        #[test]
        fn milli_round_trips(milli in any::<i64>()) {
            let q = Quantity::from_milli(milli);
            prop_assert_eq!(Quantity::parse(&q.to_string()).unwrap().milli_value(), milli);
        }

        #[test]
        fn suffixed_integers_scale_exactly(n in 0i64..1_000_000, suffix in prop::sample::select(vec![
            ("", 1i128), ("k", 1_000), ("M", 1_000_000), ("Ki", 1024), ("Mi", 1 << 20), ("Gi", 1 << 30)])) {
            let q = Quantity::parse(&format!("{n}{}", suffix.0)).unwrap();
            prop_assert_eq!(q.nanos(), i128::from(n) * suffix.1 * G);
        }

        #[test]
        fn arbitrary_strings_never_panic(s in "\\PC{0,24}") {
            let _ = Quantity::parse(&s);
        }
    }
}
