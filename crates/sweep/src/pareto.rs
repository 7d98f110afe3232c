//! The Pareto front of a sweep, per model: the valid points no other point of the same model
//! beats on every objective (energy per frame, latency and area, minimised, and the accuracy
//! score where measured: an error minimised, an mAP maximised) while being strictly better on
//! one.

use super::csv::Row;

fn objectives(r: &Row, higher_is_better: bool) -> Option<[f64; 4]> {
    let m = r.metrics.as_ref()?;
    let s = r.score.unwrap_or(0.0);
    Some([
        m.energy_per_frame_uj,
        m.latency_us,
        m.area_mm2,
        if higher_is_better { -s } else { s },
    ])
}

fn dominates(a: &[f64; 4], b: &[f64; 4]) -> bool {
    a.iter().zip(b).all(|(x, y)| x <= y) && a.iter().zip(b).any(|(x, y)| x < y)
}

/// Indices into `rows` of the front, in row order. Sorted by the objectives first, a point
/// can only be dominated by one before it, so each is checked against the front so far.
pub fn pareto_front(rows: &[Row], higher_is_better: bool) -> Vec<usize> {
    let mut front: Vec<usize> = Vec::new();
    let mut models: Vec<&str> = rows.iter().map(|r| r.model.as_str()).collect();
    models.sort_unstable();
    models.dedup();
    for model in models {
        let mut idx: Vec<(usize, [f64; 4])> = rows
            .iter()
            .enumerate()
            .filter(|(_, r)| r.model == model && r.status == "ok")
            .filter_map(|(i, r)| objectives(r, higher_is_better).map(|o| (i, o)))
            .collect();
        idx.sort_by(|a, b| a.1.partial_cmp(&b.1).expect("finite").then(a.0.cmp(&b.0)));
        let mut kept: Vec<(usize, [f64; 4])> = Vec::new();
        for (i, o) in idx {
            if !kept.iter().any(|(_, k)| dominates(k, &o)) {
                kept.push((i, o));
            }
        }
        front.extend(kept.into_iter().map(|(i, _)| i));
    }
    front.sort_unstable();
    front
}
