//! Intervals over independent replicates: the mean of a figure over replicates and the mean
//! of paired differences (method A minus method B on the same replicate), each with its 95 %
//! Student-t interval `mean ± t(0.975, n - 1) s / sqrt(n)` (s the sample standard deviation).
//! Pairing removes what the replicate's frames do to both methods alike, which is most of
//! the spread (a stream segment moves a fixed model more than methods differ). An ordering is
//! claimed only where the interval excludes 0.

use serde::Serialize;

/// A mean over replicates with its 95 % interval; with one replicate the interval is
/// unbounded (nothing can be claimed from one run).
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Estimate {
    pub mean: f64,
    pub lo: f64,
    pub hi: f64,
    /// Replicates.
    pub n: usize,
}

impl Estimate {
    /// "above" (interval above 0), "below", or "within noise".
    pub fn verdict(&self) -> &'static str {
        if self.lo > 0.0 {
            "above"
        } else if self.hi < 0.0 {
            "below"
        } else {
            "within noise"
        }
    }

    /// "+0.052 [+0.013, +0.091]".
    pub fn signed(&self) -> String {
        let f = |v: f64| {
            if v.is_finite() {
                format!("{v:+.3}")
            } else if v > 0.0 {
                "+inf".into()
            } else {
                "-inf".into()
            }
        };
        format!("{} [{}, {}]", f(self.mean), f(self.lo), f(self.hi))
    }
}

/// The 97.5th percentile of Student's t with `df` degrees of freedom (the two-sided 95 %
/// quantile), from the standard table for df <= 30 and the normal's 1.960 beyond.
pub fn t975(df: usize) -> f64 {
    const T: [f64; 30] = [
        12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228, 2.201, 2.179, 2.160,
        2.145, 2.131, 2.120, 2.110, 2.101, 2.093, 2.086, 2.080, 2.074, 2.069, 2.064, 2.060, 2.056,
        2.052, 2.048, 2.045, 2.042,
    ];
    match df {
        0 => f64::INFINITY,
        1..=30 => T[df - 1],
        // Between 30 and 120 degrees of freedom the quantile falls from 2.042 to 1.980.
        31..=120 => 2.042 - (df - 30) as f64 * (2.042 - 1.980) / 90.0,
        _ => 1.960,
    }
}

/// The mean of `x` with its 95 % t interval.
pub fn mean_interval(x: &[f64]) -> Estimate {
    let n = x.len();
    if n == 0 {
        return Estimate {
            mean: f64::NAN,
            lo: f64::NEG_INFINITY,
            hi: f64::INFINITY,
            n,
        };
    }
    let mean = x.iter().sum::<f64>() / n as f64;
    if n == 1 {
        return Estimate {
            mean,
            lo: f64::NEG_INFINITY,
            hi: f64::INFINITY,
            n,
        };
    }
    let var = x.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (n - 1) as f64;
    let half = t975(n - 1) * (var / n as f64).sqrt();
    Estimate {
        mean,
        lo: mean - half,
        hi: mean + half,
        n,
    }
}

/// The paired differences `a[r] - b[r]` over replicates, with their 95 % t interval.
pub fn paired(a: &[f64], b: &[f64]) -> Estimate {
    assert_eq!(a.len(), b.len(), "paired figures come one per replicate");
    let d: Vec<f64> = a.iter().zip(b).map(|(x, y)| x - y).collect();
    mean_interval(&d)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Differences 1, 2, 3, 4, 5 by hand: mean 3, s = sqrt(2.5), half-width 2.776 x
    /// sqrt(2.5 / 5) = 1.96293.
    #[test]
    fn paired_by_hand() {
        let a = [11.0, 12.0, 13.0, 14.0, 15.0];
        let b = [10.0; 5];
        let e = paired(&a, &b);
        assert_eq!(e.n, 5);
        assert!((e.mean - 3.0).abs() < 1e-12);
        let half = 2.776 * (2.5f64 / 5.0).sqrt();
        assert!((e.lo - (3.0 - half)).abs() < 1e-9 && (e.hi - (3.0 + half)).abs() < 1e-9);
        assert_eq!(e.verdict(), "above");
        assert_eq!(paired(&b, &a).verdict(), "below");
    }

    /// One replicate claims nothing; equal methods are within noise.
    #[test]
    fn one_replicate_and_ties() {
        let e = mean_interval(&[0.3]);
        assert!(e.lo.is_infinite() && e.hi.is_infinite());
        assert_eq!(e.verdict(), "within noise");
        let t = paired(&[0.5, 0.6, 0.4], &[0.5, 0.6, 0.4]);
        assert_eq!((t.mean, t.lo, t.hi), (0.0, 0.0, 0.0));
        assert_eq!(t.verdict(), "within noise");
    }

    #[test]
    fn t_table() {
        assert_eq!(t975(4), 2.776);
        assert_eq!(t975(30), 2.042);
        assert!((t975(120) - 1.980).abs() < 1e-12);
        assert_eq!(t975(1000), 1.960);
    }
}
