//! Stuck-at faults: a fraction of the cells stuck at g_min (OFF) or at g_max (ON), whatever was
//! written. Per crossbar exactly round(off_rate * cells) OFF and round(on_rate * cells) ON
//! cells, at distinct positions drawn uniformly without replacement from the law's stream, so
//! counts are exact and positions reproducible from the seed.

use super::{CellLaw, Cells, DeviceError, LawInfo};
use rand::seq::index;
use rand_chacha::ChaCha8Rng;
use std::sync::Arc;

pub const INFO: LawInfo = LawInfo {
    name: "stuck",
    summary: "cells stuck at g_min (off_rate) or g_max (on_rate), exact counts per crossbar",
    params: "off_rate (0 to 1, default 0), on_rate (0 to 1, default 0), off_rate + on_rate <= 1",
    build: |p| {
        Ok(Arc::new(Stuck::new(
            p.num("off_rate", Some(0.0), 0.0, 1.0)?,
            p.num("on_rate", Some(0.0), 0.0, 1.0)?,
        )?))
    },
};

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Stuck {
    pub off_rate: f64,
    pub on_rate: f64,
}

impl Stuck {
    pub fn new(off_rate: f64, on_rate: f64) -> Result<Self, DeviceError> {
        for (k, r) in [("off_rate", off_rate), ("on_rate", on_rate)] {
            if !(r.is_finite() && (0.0..=1.0).contains(&r)) {
                return Err(DeviceError::new(k, r, "allowed: 0 <= rate <= 1"));
            }
        }
        if off_rate + on_rate > 1.0 {
            return Err(DeviceError::new(
                "on_rate",
                on_rate,
                format!("off_rate + on_rate must be at most 1 (off_rate = {off_rate})"),
            ));
        }
        Ok(Stuck { off_rate, on_rate })
    }

    /// (OFF, ON) cells of a crossbar of `cells` cells.
    pub fn counts(&self, cells: usize) -> (usize, usize) {
        let off = (self.off_rate * cells as f64).round() as usize;
        let on = ((self.on_rate * cells as f64).round() as usize).min(cells - off);
        (off, on)
    }
}

impl CellLaw for Stuck {
    fn name(&self) -> &'static str {
        INFO.name
    }

    fn program(&self, cells: &mut Cells<'_>, rng: &mut ChaCha8Rng) {
        let n = cells.g.len();
        let (off, on) = self.counts(n);
        if off + on == 0 {
            return;
        }
        for (j, pos) in index::sample(rng, n, off + on).into_iter().enumerate() {
            cells.g[pos] = if j < off { cells.g_min } else { cells.g_max };
        }
    }
}
