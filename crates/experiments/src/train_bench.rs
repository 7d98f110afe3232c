//! Training-step timing for the tch-versus-PyTorch comparison (`benches/train_speed.sh`):
//! one fixed rendered batch, so that only forward, loss, backward and the optimiser step are
//! timed, exactly what `benches/train_speed.py` times.

use nestevo_core::check;
use nestevo_data::{GtBox, StreamId, CLASSES};
use nestevo_model::load_model;
use nestevo_train::detector::Detector;
use nestevo_train::frames::FramePool;
use nestevo_train::loss::{build_targets, detection_loss};
use nestevo_train::Result;
use serde::Serialize;
use std::path::Path;
use std::time::Instant;
use tch::nn::OptimizerConfig;
use tch::Device;

#[derive(Debug, Serialize)]
pub struct BenchReport {
    pub impl_: &'static str,
    pub model: String,
    pub params: i64,
    pub batch: usize,
    pub steps: usize,
    pub device: String,
    pub threads: i32,
    pub ms_per_step: f64,
    pub frames_per_s: f64,
}

pub fn run(
    desc_path: &Path,
    steps: usize,
    batch: usize,
    device: Device,
    seed: u64,
) -> Result<BenchReport> {
    check!(
        steps > 0 && batch > 0,
        "benchmark needs steps > 0 and batch > 0"
    );
    tch::manual_seed(seed as i64);
    let desc = load_model(desc_path)?;
    let model = Detector::new(&desc, CLASSES.len(), device)?;
    let frames = FramePool::new(StreamId::Source, seed).sample(batch);
    let rgb: Vec<&[u8]> = frames.iter().map(|f| f.rgb.as_slice()).collect();
    let x = model.batch_from_rgb(&rgb);
    let boxes: Vec<Vec<GtBox>> = frames.iter().map(|f| f.boxes.clone()).collect();
    let t = build_targets(&boxes, model.classes, model.grid(), model.stride, device);
    let mut opt = tch::nn::AdamW::default().build(&model.vs, 1e-3)?;
    let mut step = || -> Result<()> {
        let out = model.forward(&x, true)?;
        let loss = detection_loss(&out, &t);
        opt.backward_step(&loss);
        Ok(())
    };
    let warmup = (steps / 5).clamp(2, 10);
    for _ in 0..warmup {
        step()?;
    }
    if device.is_cuda() {
        tch::Cuda::synchronize(0);
    }
    let start = Instant::now();
    for _ in 0..steps {
        step()?;
    }
    if device.is_cuda() {
        tch::Cuda::synchronize(0);
    }
    let s = start.elapsed().as_secs_f64();
    Ok(BenchReport {
        impl_: "tch",
        model: desc.name,
        params: model.params(),
        batch,
        steps,
        device: format!("{device:?}"),
        threads: tch::get_num_threads(),
        ms_per_step: s * 1e3 / steps as f64,
        frames_per_s: (steps * batch) as f64 / s,
    })
}
