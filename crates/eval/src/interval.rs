//! The 95 % intervals every reported mAP carries (computed by `ci`, held by `map::MapReport`).

use serde::Serialize;

/// A 95 % interval `[lo, hi]`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Interval {
    pub lo: f64,
    pub hi: f64,
}

impl Interval {
    /// Half the width, the "± points" of a table.
    pub fn half_width(&self) -> f64 {
        (self.hi - self.lo) / 2.0
    }

    /// Whether two intervals are disjoint, the only case in which the project claims an order.
    pub fn separated_from(&self, o: &Interval) -> bool {
        self.hi < o.lo || o.hi < self.lo
    }
}

/// The intervals of the means of a `MapReport`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct MapCi {
    pub map50: Interval,
    pub map75: Interval,
    pub map: Interval,
    pub map50_voc: Interval,
}
