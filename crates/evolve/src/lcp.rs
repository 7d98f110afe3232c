//! Life-cycle performance (Eq. 6-8) and the link model behind t_c.
//!
//! Within a window of `t_total` seconds a terminal runs its old model until the new one is
//! deployed `t_evolving = t_c + t_w + t_r` after the request (upload and download, waiting,
//! training), so
//!
//! `LCP = (A_before * t_evolving + A_after * (t_total - t_evolving)) / t_total`   (Eq. 6)
//!      `= A_before + dA * (t_total - t_evolving) / t_total`                      (Eq. 8)
//!
//! with `t_evolving` clipped to `[0, t_total]` (a model that arrives after the window never
//! serves in it). The link model: each transfer costs one latency plus its bits over the
//! bandwidth, `t_c = 2 * latency + 8 * (bytes_up + bytes_down) / bandwidth`.

use serde::Serialize;

/// The three parts of `t_evolving`, in seconds.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Default)]
pub struct EvolvingTime {
    /// Upload of the frames and download of the new model.
    pub t_c: f64,
    /// Waiting for the trainer.
    pub t_w: f64,
    /// Training.
    pub t_r: f64,
}

impl EvolvingTime {
    pub fn total(&self) -> f64 {
        self.t_c + self.t_w + self.t_r
    }
}

/// t_c of one upload of `bytes_up` and one download of `bytes_down` over a link of
/// `bandwidth_mbps` megabits per second and `latency_ms` per transfer.
pub fn transfer_s(bytes_up: u64, bytes_down: u64, bandwidth_mbps: f64, latency_ms: f64) -> f64 {
    2.0 * latency_ms / 1e3 + 8.0 * (bytes_up + bytes_down) as f64 / (bandwidth_mbps * 1e6)
}

/// Eq. 6: the time-weighted accuracy of a window.
pub fn lcp(acc_before: f64, acc_after: f64, t_evolving: f64, t_total: f64) -> f64 {
    let t = t_evolving.clamp(0.0, t_total);
    (acc_before * t + acc_after * (t_total - t)) / t_total
}

/// How many of a window's scoring frames (times in seconds from the window's start, sorted)
/// the old model serves: those before the new model's deployment at `t_evolving`.
pub fn served_by_old(frame_times: &[f64], t_evolving: f64) -> usize {
    frame_times.partition_point(|&t| t < t_evolving)
}
