//! Which vector instructions the kernels may use: the one place that asks the CPU and reads
//! `NESTEVO_SIMD`. The tiers nest, Plain < Avx2 < Avx512, each needing the features of the one
//! below:
//!
//! - `Avx2`: AVX2, POPCNT, FMA, F16C (popcount kernel, analogue kernel);
//! - `Avx512`: also AVX-512 F, DQ, BW, VL and VPOPCNTDQ (bit-sliced kernel, analogue strips).
//!
//! The tier used is min(best tier of the CPU, `NESTEVO_SIMD`), so the variable can only narrow
//! the choice (the portable code is tested on machines that have AVX-512) and never asks for
//! instructions the CPU lacks. Every tier computes the very same numbers; only speed differs.

use crate::config::{fail, KernelError};
use std::sync::OnceLock;

/// An instruction-set tier, narrowest first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Simd {
    Plain,
    Avx2,
    Avx512,
}

/// The environment variable that caps the tier.
pub(crate) const VAR: &str = "NESTEVO_SIMD";

/// Its values: `auto` (or unset, or empty) leaves the CPU's best tier.
const ALLOWED: &str = "auto, avx512, avx2, plain";

/// The tier of this product: the CPU's best, capped by `NESTEVO_SIMD` as it is now (read on
/// every call, once per programming and once per product, so that a test can switch paths).
pub(crate) fn decide() -> Result<Simd, KernelError> {
    let best = cpu_best();
    let cap = match std::env::var_os(VAR) {
        None => None,
        Some(v) => match v.to_str() {
            Some(s) => parse(s)?,
            None => return refuse(&v.to_string_lossy()),
        },
    };
    Ok(cap.map_or(best, |c| c.min(best)))
}

/// A value of `NESTEVO_SIMD`: `None` for auto, the cap otherwise.
pub(crate) fn parse(s: &str) -> Result<Option<Simd>, KernelError> {
    match s {
        "" | "auto" => Ok(None),
        "avx512" => Ok(Some(Simd::Avx512)),
        "avx2" => Ok(Some(Simd::Avx2)),
        "plain" => Ok(Some(Simd::Plain)),
        other => refuse(other),
    }
}

fn refuse<T>(value: &str) -> Result<T, KernelError> {
    fail(format!(
        "environment variable {VAR} = {value:?} is not a SIMD tier: allowed are {ALLOWED} \
         (or unset)"
    ))
}

/// The widest tier this CPU has, detected once per process.
fn cpu_best() -> Simd {
    static BEST: OnceLock<Simd> = OnceLock::new();
    *BEST.get_or_init(detect)
}

fn detect() -> Simd {
    #[cfg(target_arch = "x86_64")]
    {
        let avx2 = is_x86_feature_detected!("avx2")
            && is_x86_feature_detected!("popcnt")
            && is_x86_feature_detected!("fma")
            && is_x86_feature_detected!("f16c");
        let avx512 = is_x86_feature_detected!("avx512f")
            && is_x86_feature_detected!("avx512dq")
            && is_x86_feature_detected!("avx512bw")
            && is_x86_feature_detected!("avx512vl")
            && is_x86_feature_detected!("avx512vpopcntdq");
        if avx2 && avx512 {
            return Simd::Avx512;
        }
        if avx2 {
            return Simd::Avx2;
        }
    }
    Simd::Plain
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every allowed value parses to its tier; anything else is refused with a message that
    /// names the variable, the value and the allowed values.
    #[test]
    fn values_of_nestevo_simd() {
        assert_eq!(parse("").unwrap(), None);
        assert_eq!(parse("auto").unwrap(), None);
        assert_eq!(parse("avx512").unwrap(), Some(Simd::Avx512));
        assert_eq!(parse("avx2").unwrap(), Some(Simd::Avx2));
        assert_eq!(parse("plain").unwrap(), Some(Simd::Plain));
        for bad in ["bogus", "AVX2", "avx", " plain"] {
            let e = parse(bad).unwrap_err().0;
            assert!(e.contains("NESTEVO_SIMD"), "{e}");
            assert!(e.contains(&format!("{bad:?}")), "{e}");
            assert!(e.contains(ALLOWED), "{e}");
        }
    }

    /// The tiers are ordered narrowest first: `min` with the CPU's best is the cap.
    #[test]
    fn tiers_are_ordered() {
        assert!(Simd::Plain < Simd::Avx2 && Simd::Avx2 < Simd::Avx512);
    }
}
