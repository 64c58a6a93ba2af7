//! Exact integer division by a divisor known in advance, through a precomputed reciprocal.

/// A positive integer divisor with its f64 reciprocal: [`Divisor::divide`] is exact integer division at
/// the cost of a multiplication. Nodes keep one for their allocatable CPU and memory, which every resource
/// scorer divides by on every node.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Divisor {
    d: i64,
    /// `1/d` when `0 < d < 2^52`, else 0 (no fast path).
    inverse: f64,
}

/// Numerators and divisors below this bound take the fast path.
const FAST: u64 = 1 << 52;

impl Divisor {
    /// A divisor `d` (any value; non-positive ones divide by integer division).
    pub fn new(d: i64) -> Divisor {
        let fast = d > 0 && (d as u64) < FAST;
        Divisor { d, inverse: if fast { 1.0 / d as f64 } else { 0.0 } }
    }

    /// The divisor.
    #[inline]
    pub fn get(self) -> i64 {
        self.d
    }

    /// `a / self`, exactly as integer division (truncating), for `a >= 0`.
    ///
    /// # Panics
    /// If the divisor is 0, as integer division does.
    #[inline]
    pub fn divide(self, a: i64) -> i64 {
        if (a as u64) < FAST && self.inverse != 0.0 {
            // a·(1/d) < 2^52 is within one of a/d, and almost always truncates to it: the correction
            // branches are predictable.
            let mut q = (a as f64 * self.inverse) as i64;
            let mut r = a - q * self.d;
            while r < 0 {
                q -= 1;
                r += self.d;
            }
            while r >= self.d {
                q += 1;
                r -= self.d;
            }
            q
        } else {
            a / self.d
        }
    }
}

#[cfg(test)]
mod tests {
    use super::Divisor;
    use proptest::prelude::*;

    #[test]
    fn edges() {
        for (a, b) in [
            (0, 1),
            (99, 100),
            (100, 100),
            ((1 << 52) - 1, 3),
            ((1 << 52) - 1, (1 << 52) - 2),
            (i64::MAX, 7),
            (5, 1 << 60),
            (-7, 2),
            (1, (1 << 52) - 1),
        ] {
            assert_eq!(Divisor::new(b).divide(a), a / b, "{a} / {b}");
        }
    }

    proptest! {
        #[test]
        fn is_integer_division(a in 0i64..i64::MAX, b in 1i64..i64::MAX) {
            prop_assert_eq!(Divisor::new(b).divide(a), a / b);
        }

        #[test]
        fn small_operands(a in 0i64..(1 << 53), b in 1i64..(1 << 40)) {
            prop_assert_eq!(Divisor::new(b).divide(a), a / b);
        }

        #[test]
        fn near_multiples(q in 0i64..(1 << 26), b in 1i64..(1 << 26), d in -2i64..=2) {
            let a = (q * b + d).max(0);
            prop_assert_eq!(Divisor::new(b).divide(a), a / b);
        }
    }
}
