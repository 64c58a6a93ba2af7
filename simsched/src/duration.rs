//! Durations on the command line, written as Go and kubectl write them: `30s`, `1.5m`, `1h30m`, `250ms`.

use traces::Micros;

/// Microseconds per unit, longest unit name first where one is a prefix of another (`ms` before `m`).
const UNITS: [(&str, Micros); 7] =
    [("ns", 0), ("us", 1), ("µs", 1), ("ms", 1_000), ("s", 1_000_000), ("m", 60_000_000), ("h", 3_600_000_000)];

/// Parses a duration into microseconds: one or more `<decimal><unit>` pieces (`1h30m`, `0.5s`), units
/// `us` (or `µs`), `ms`, `s`, `m`, `h`; or `0`. Nanoseconds are accepted when they are whole microseconds.
pub fn parse_duration(text: &str) -> Result<Micros, String> {
    let expected = || format!("invalid duration {text:?}: expected a number with a unit, such as 30s, 1.5m, 1h30m or 250ms");
    if text == "0" {
        return Ok(0);
    }
    if text.is_empty() {
        return Err(expected());
    }
    let mut rest = text;
    let mut total_nanos: u128 = 0;
    while !rest.is_empty() {
        let number_len = rest.find(|c: char| !(c.is_ascii_digit() || c == '.')).ok_or_else(expected)?;
        let (number, after) = rest.split_at(number_len);
        let (unit, nanos_per_unit) = UNITS
            .iter()
            .filter(|(unit, _)| after.starts_with(unit))
            .max_by_key(|(unit, _)| unit.len())
            .map(|&(unit, micros)| (unit, if unit == "ns" { 1 } else { u128::from(micros) * 1000 }))
            .ok_or_else(expected)?;
        total_nanos = total_nanos.checked_add(decimal_times(number, nanos_per_unit).ok_or_else(expected)?).ok_or_else(expected)?;
        rest = &after[unit.len()..];
    }
    if !total_nanos.is_multiple_of(1000) {
        return Err(format!("invalid duration {text:?}: simulated time is counted in whole microseconds"));
    }
    Micros::try_from(total_nanos / 1000)
        .ok()
        .filter(|&micros| micros <= traces::workload::MAX_MICROS)
        .ok_or_else(|| format!("invalid duration {text:?}: at most {} hours", traces::workload::MAX_MICROS / 3_600_000_000))
}

/// `number × factor` exactly, where `number` is a decimal such as `1.25`; `None` when it is not a decimal,
/// has more digits than can be exact, or the product is not a whole number.
fn decimal_times(number: &str, factor: u128) -> Option<u128> {
    let (whole, fraction) = number.split_once('.').unwrap_or((number, ""));
    if (whole.is_empty() && fraction.is_empty()) || whole.len() > 20 || fraction.len() > 18 || fraction.contains('.') {
        return None;
    }
    let digits = |s: &str| -> Option<u128> { if s.is_empty() { Some(0) } else { s.parse::<u128>().ok() } };
    let scale = 10u128.pow(u32::try_from(fraction.len()).ok()?);
    let scaled = digits(whole)?.checked_mul(scale)?.checked_add(digits(fraction)?)?;
    let product = scaled.checked_mul(factor)?;
    product.is_multiple_of(scale).then_some(product / scale)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(text: &str, expected: Result<Micros, &str>) {
        match (parse_duration(text), expected) {
            (Ok(got), Ok(want)) => assert_eq!(got, want, "{text}"),
            (Err(got), Err(want)) => assert!(got.contains(want), "{text}: {got:?} does not contain {want:?}"),
            (got, want) => panic!("{text}: got {got:?}, want {want:?}"),
        }
    }

    #[test]
    fn units_and_decimals() {
        check("0", Ok(0));
        check("30s", Ok(30_000_000));
        check("1.5m", Ok(90_000_000));
        check("1h30m", Ok(5_400_000_000));
        check("250ms", Ok(250_000));
        check("10us", Ok(10));
        check("10µs", Ok(10));
        check("3000ns", Ok(3));
        check(".5s", Ok(500_000));
        check("0.000001s", Ok(1));
    }

    #[test]
    fn bad_durations_say_what_is_expected() {
        check("", Err("expected a number with a unit"));
        check("30", Err("expected a number with a unit"));
        check("s", Err("expected a number with a unit"));
        check("1x", Err("expected a number with a unit"));
        check("1.2.3s", Err("expected a number with a unit"));
        check("-1s", Err("expected a number with a unit"));
        check("1ns", Err("whole microseconds"));
        check("0.0000001s", Err("whole microseconds"));
        check("99999999999999999999h", Err("at most"));
    }
}
