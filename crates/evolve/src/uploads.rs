//! How many frames each terminal uploads in a window (Eq. 5): every terminal `min_upload`
//! frames plus a share of the rest of `D_max` in proportion to its last delta_i (more frames
//! where the drift was larger), rounded down so that the sum stays within D_max; an even split
//! of D_max while some terminal has no delta yet.

/// Frames per terminal, in the order of `deltas` (see the module doc).
pub fn upload_counts(d_max: usize, min_upload: usize, deltas: &[Option<f64>]) -> Vec<usize> {
    let n = deltas.len();
    if n == 0 {
        return Vec::new();
    }
    if deltas.iter().any(|d| d.is_none()) {
        return vec![d_max / n; n];
    }
    let rest = d_max.saturating_sub(min_upload * n);
    let total: f64 = deltas.iter().map(|d| d.unwrap_or(0.0)).sum();
    deltas
        .iter()
        .map(|d| {
            let share = if total > 0.0 {
                d.unwrap_or(0.0) / total
            } else {
                1.0 / n as f64
            };
            min_upload + (rest as f64 * share).floor() as usize
        })
        .collect()
}
