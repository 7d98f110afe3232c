//! A trained detector's mAP@0.5 on held-out stream frames, run bit-faithfully on each design
//! point of a sweep: the accuracy axis of `nestevo sweep --accuracy-frames N`. The sweep
//! (simulator side) cannot reach the frames and the metric; it calls this through its
//! `Score` trait.

use super::detector::{run_detector, RunConfig};
use nestevo_arch::ArchSpec;
use nestevo_model::{ModelDesc, Tensors};
use nestevo_sweep::Score;

/// Each model's checkpoint (the sweep's order) and the frames to score them on.
pub struct DetectorScore {
    pub tensors: Vec<Tensors>,
    pub cfg: RunConfig,
}

impl Score for DetectorScore {
    fn metric(&self) -> &str {
        "map50"
    }
    fn higher_is_better(&self) -> bool {
        true
    }
    fn id(&self) -> String {
        let n = &self.cfg.noise;
        format!(
            "crossbar mAP@0.5 on {}; {} calibration frames; noise {:?} mu {} seed {}",
            self.cfg.frames.describe(),
            self.cfg.calib_frames,
            n.mode,
            n.mu,
            n.seed
        )
    }
    fn score(&self, k: usize, desc: &ModelDesc, spec: &ArchSpec) -> Result<f64, String> {
        run_detector(desc, &self.tensors[k], spec, &self.cfg)
            .map(|r| r.cim.map50)
            .map_err(|e| e.to_string())
    }
}
