//! The design grid: axes `key=a..b` (integers a to b inclusive) or `key=v1,v2,...`, their
//! cartesian product in a fixed order (the last axis varies fastest), and shards of it.

use super::SweepError;

/// One knob and the values it takes, as `--set key=value` strings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Axis {
    pub key: String,
    pub values: Vec<String>,
}

impl Axis {
    /// Parses `key=a..b` or `key=v1,v2,...`.
    pub fn parse(s: &str) -> Result<Axis, SweepError> {
        let bad = |why: String| SweepError::Grid {
            grid: s.to_string(),
            message: why,
        };
        let (key, vals) = s
            .split_once('=')
            .ok_or_else(|| bad("expected key=a..b or key=v1,v2,...".into()))?;
        let key = key.trim();
        if key.is_empty() || !key.contains('.') {
            return Err(bad(format!(
                "`{key}` is not a section.key of the accelerator description (e.g. adc.bits)"
            )));
        }
        let values: Vec<String> = if let Some((a, b)) = vals.split_once("..") {
            let (a, b) = (a.trim(), b.trim());
            let (lo, hi) = match (a.parse::<i64>(), b.parse::<i64>()) {
                (Ok(lo), Ok(hi)) => (lo, hi),
                _ => return Err(bad(format!("range `{vals}`: both ends must be integers"))),
            };
            if lo > hi {
                return Err(bad(format!(
                    "range {lo}..{hi} is empty (it is inclusive: a <= b)"
                )));
            }
            if hi - lo >= 1_000_000 {
                return Err(bad(format!("range {lo}..{hi} has over a million values")));
            }
            (lo..=hi).map(|v| v.to_string()).collect()
        } else {
            vals.split(',').map(|v| v.trim().to_string()).collect()
        };
        if values.iter().any(String::is_empty) {
            return Err(bad("an empty value".into()));
        }
        Ok(Axis {
            key: key.to_string(),
            values,
        })
    }

    /// `key=v1,v2,...`: the canonical text (ranges written out).
    pub fn canonical(&self) -> String {
        format!("{}={}", self.key, self.values.join(","))
    }
}

/// The product of the axes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Grid {
    pub axes: Vec<Axis>,
}

impl Grid {
    pub fn parse(specs: &[String]) -> Result<Grid, SweepError> {
        if specs.is_empty() {
            return Err(SweepError::Grid {
                grid: String::new(),
                message: "no --grid given: name at least one key=a..b or key=v1,v2".into(),
            });
        }
        let axes = specs
            .iter()
            .map(|s| Axis::parse(s))
            .collect::<Result<Vec<_>, _>>()?;
        for (i, a) in axes.iter().enumerate() {
            if axes[..i].iter().any(|b| b.key == a.key) {
                return Err(SweepError::Grid {
                    grid: specs[i].clone(),
                    message: format!("key `{}` is swept twice", a.key),
                });
            }
        }
        let g = Grid { axes };
        if g.len_checked().is_none() {
            return Err(SweepError::Grid {
                grid: specs.join(" "),
                message: "the grid has more than 2^40 points".into(),
            });
        }
        Ok(g)
    }

    fn len_checked(&self) -> Option<u64> {
        self.axes
            .iter()
            .try_fold(1u64, |n, a| n.checked_mul(a.values.len() as u64))
            .filter(|&n| n <= 1 << 40)
    }

    /// Points in the grid.
    pub fn len(&self) -> u64 {
        self.len_checked().expect("checked at parse")
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Value index of each axis at point `i` (mixed radix, last axis fastest).
    pub fn coords(&self, mut i: u64) -> Vec<usize> {
        let mut c = vec![0; self.axes.len()];
        for (k, a) in self.axes.iter().enumerate().rev() {
            let n = a.values.len() as u64;
            c[k] = (i % n) as usize;
            i /= n;
        }
        c
    }

    /// The values of point `i`, one per axis.
    pub fn values(&self, i: u64) -> Vec<String> {
        self.coords(i)
            .iter()
            .zip(&self.axes)
            .map(|(&v, a)| a.values[v].clone())
            .collect()
    }

    /// The `key=value` overrides of point `i`.
    pub fn sets(&self, i: u64) -> Vec<String> {
        self.coords(i)
            .iter()
            .zip(&self.axes)
            .map(|(&v, a)| format!("{}={}", a.key, a.values[v]))
            .collect()
    }
}

/// Shard I of N (0 <= I < N): the points i with i mod N == I, in order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shard {
    pub index: u64,
    pub count: u64,
}

impl Shard {
    pub const WHOLE: Shard = Shard { index: 0, count: 1 };

    /// Parses `I/N`.
    pub fn parse(s: &str) -> Result<Shard, SweepError> {
        let bad = |m: &str| SweepError::Shard {
            shard: s.to_string(),
            message: m.to_string(),
        };
        let (i, n) = s
            .split_once('/')
            .ok_or_else(|| bad("expected I/N, e.g. 0/8"))?;
        let (i, n) = match (i.trim().parse::<u64>(), n.trim().parse::<u64>()) {
            (Ok(i), Ok(n)) => (i, n),
            _ => return Err(bad("I and N must be whole numbers")),
        };
        if n == 0 || i >= n {
            return Err(bad("needs N >= 1 and 0 <= I < N (shards count from 0)"));
        }
        Ok(Shard { index: i, count: n })
    }

    /// The grid points of this shard, in order.
    pub fn points(&self, total: u64) -> impl Iterator<Item = u64> {
        (self.index..total).step_by(self.count as usize)
    }

    pub fn len(&self, total: u64) -> u64 {
        if total <= self.index {
            0
        } else {
            (total - self.index).div_ceil(self.count)
        }
    }

    pub fn is_empty(&self, total: u64) -> bool {
        self.len(total) == 0
    }
}
