//! A trained detector on a stream, float and on crossbars side by side: the figures of
//! `nestevo cim run` (mAP@0.5 both ways, head differences, event counts, wall time).

use super::{batch_from_frames, merge_runs, total, CimNetwork, LayerRun, Tensors};
use crate::arch::ArchSpec;
use crate::cim::{Backend, LayerStats, NoiseSpec};
use crate::data::{Frame, Stream, StreamId};
use crate::eval::decode::{decode, DecodeConfig, Heads};
use crate::eval::{evaluate, ground_truth, Detection, MapReport};
use crate::model::{load_model, ModelDesc};
use anyhow::{ensure, Context, Result};
use ndarray::Array4;
use serde::Serialize;
use std::path::{Path, PathBuf};
use std::time::Instant;

/// The trainer's evaluation seed (`train::frames::eval_frames`): its frames are never trained on.
pub const EVAL_SEED: u64 = 0xE7A1;

/// Frames per forward: bounds the memory of im2col and the bit planes.
const BATCH: usize = 8;

/// Reads `NAME.safetensors` and its description (`model`, or `NAME.toml` beside it).
pub fn load_checkpoint(weights: &Path, model: Option<&Path>) -> Result<(ModelDesc, Tensors)> {
    ensure!(
        weights.extension().is_some_and(|e| e == "safetensors"),
        "checkpoint {}: expected a NAME.safetensors file",
        weights.display()
    );
    ensure!(
        weights.is_file(),
        "checkpoint {}: no such file",
        weights.display()
    );
    let desc_path: PathBuf =
        model.map_or_else(|| weights.with_extension("toml"), Path::to_path_buf);
    ensure!(
        desc_path.is_file(),
        "checkpoint {}: its model description {} is missing (give one with --model)",
        weights.display(),
        desc_path.display()
    );
    Ok((load_model(&desc_path)?, Tensors::read(weights)?))
}

/// What to run.
#[derive(Debug, Clone)]
pub struct RunConfig {
    pub stream: StreamId,
    /// Evaluated frames: frame 5i of the stream with seed `seed`, i < frames.
    pub frames: usize,
    /// Calibration frames: frame 5i of the same stream with seed `seed + 1` (never evaluated).
    pub calib_frames: usize,
    pub seed: u64,
    pub noise: NoiseSpec,
    /// Engine of the crossbars.
    pub backend: Backend,
}

/// Largest |float - crossbar| of each head over all frames.
#[derive(Debug, Clone, Copy, Default, Serialize)]
pub struct HeadDiff {
    pub hm: f32,
    pub wh: f32,
    pub off: f32,
}

#[derive(Debug, Clone, Serialize)]
pub struct RunReport {
    pub arch: String,
    pub model: String,
    pub stream: String,
    pub frames: usize,
    pub calib_frames: usize,
    pub seed: u64,
    pub noise: NoiseSpec,
    /// Engine of the crossbars (`cpu` or `torch`).
    pub backend: String,
    pub folded_batch_norms: usize,
    pub float: MapReport,
    pub cim: MapReport,
    pub max_abs_diff: HeadDiff,
    pub layers: Vec<LayerRun>,
    pub total: LayerStats,
    pub adc_saturation_rate: f64,
    pub program_seconds: f64,
    pub calibrate_seconds: f64,
    pub float_seconds: f64,
    pub cim_seconds: f64,
}

/// `n` frames of stream `id` (seed `seed`, frames 0, 5, 10, ...) at the model's size.
pub fn stream_frames(
    id: StreamId,
    seed: u64,
    n: usize,
    [_, h, w]: [usize; 3],
) -> Result<Vec<Frame>> {
    ensure!(
        h >= 8 && w >= 8,
        "the model's input {w}x{h} is below the renderer's 8x8 pixels"
    );
    let s = Stream::new(id, seed).with_size(w, h);
    Ok((0..n as u64).map(|i| s.frame(i * 5)).collect())
}

fn max_diff(a: &Array4<f32>, b: &Array4<f32>) -> f32 {
    a.iter().zip(b).fold(0f32, |m, (x, y)| m.max((x - y).abs()))
}

/// Programs `desc` with `tensors` on `spec`, calibrates, and runs float and crossbar forwards
/// over the frames, scoring both with mAP.
pub fn run_detector(
    desc: &ModelDesc,
    tensors: &Tensors,
    spec: &ArchSpec,
    cfg: &RunConfig,
) -> Result<RunReport> {
    ensure!(cfg.frames >= 1, "--frames must be at least 1");
    ensure!(cfg.calib_frames >= 1, "--calib-frames must be at least 1");
    let t0 = Instant::now();
    let mut net = CimNetwork::new_on(desc, tensors, spec, &cfg.noise, &cfg.backend)
        .with_context(|| format!("model {} on accelerator {}", desc.source, spec.name))?;
    let t1 = Instant::now();
    let calib = stream_frames(
        cfg.stream,
        cfg.seed.wrapping_add(1),
        cfg.calib_frames,
        desc.input,
    )?;
    net.calibrate(batch_from_frames(&calib, desc.input)?.view())?;
    let t2 = Instant::now();
    let frames = stream_frames(cfg.stream, cfg.seed, cfg.frames, desc.input)?;
    let (mut dets_f, mut dets_c) = (Vec::<Detection>::new(), Vec::<Detection>::new());
    let mut diff = HeadDiff::default();
    let mut runs = Vec::new();
    let (mut float_s, mut cim_s) = (0.0, 0.0);
    let [_, h, w] = desc.input;
    let mut dcfg = DecodeConfig::default();
    for chunk in frames.chunks(BATCH) {
        let x = batch_from_frames(chunk, desc.input)?;
        let ids: Vec<u64> = chunk.iter().map(|f| f.index).collect();
        let ta = Instant::now();
        let hf = Heads::from_outputs(net.forward_float(x.view())?)
            .with_context(|| format!("model {}", desc.source))?;
        let tb = Instant::now();
        let (outs, r) = net.forward_cim(x.view())?;
        let hc = Heads::from_outputs(outs)?;
        let tc = Instant::now();
        float_s += (tb - ta).as_secs_f64();
        cim_s += (tc - tb).as_secs_f64();
        dcfg.stride = (h / hf.hm.dim().2) as f32;
        merge_runs(&mut runs, r);
        diff.hm = diff.hm.max(max_diff(&hf.hm, &hc.hm));
        diff.wh = diff.wh.max(max_diff(&hf.wh, &hc.wh));
        diff.off = diff.off.max(max_diff(&hf.off, &hc.off));
        dets_f.extend(decode(&hf, &ids, (h, w), &dcfg)?);
        dets_c.extend(decode(&hc, &ids, (h, w), &dcfg)?);
    }
    let gt = ground_truth(&frames);
    let tot = total(&runs);
    Ok(RunReport {
        arch: spec.name.clone(),
        model: desc.name.clone(),
        stream: cfg.stream.name().to_string(),
        frames: cfg.frames,
        calib_frames: cfg.calib_frames,
        seed: cfg.seed,
        noise: cfg.noise,
        backend: cfg.backend.name().to_string(),
        folded_batch_norms: net.folded_layers().len(),
        float: evaluate(&gt, &dets_f),
        cim: evaluate(&gt, &dets_c),
        max_abs_diff: diff,
        layers: runs,
        total: tot,
        adc_saturation_rate: tot.saturation_rate(),
        program_seconds: (t1 - t0).as_secs_f64(),
        calibrate_seconds: (t2 - t1).as_secs_f64(),
        float_seconds: float_s,
        cim_seconds: cim_s,
    })
}

/// The report as a Markdown table (every figure with its unit).
pub fn render(r: &RunReport) -> String {
    let n = &r.noise;
    let mut s = format!(
        "model {} on {} | stream {} | {} frames (calibrated on {}) | seed {} | noise {:?} mu {} seed {}\n\n",
        r.model, r.arch, r.stream, r.frames, r.calib_frames, r.seed, n.mode, n.mu, n.seed
    );
    s += "| quantity | float | crossbars |\n|---|---|---|\n";
    s += &format!("| mAP@0.5 | {:.4} | {:.4} |\n", r.float.map50, r.cim.map50);
    s += &format!("| mAP@[.5:.95] | {:.4} | {:.4} |\n", r.float.map, r.cim.map);
    s += &format!(
        "| detections | {} | {} |\n",
        r.float.detections, r.cim.detections
    );
    s += &format!(
        "| wall time | {:.3} s | {:.3} s (+ {:.3} s programming, {:.3} s calibration) |\n\n",
        r.float_seconds, r.cim_seconds, r.program_seconds, r.calibrate_seconds
    );
    let d = &r.max_abs_diff;
    let t = &r.total;
    s += "| quantity | value |\n|---|---|\n";
    s += &format!(
        "| max abs diff of heads | heat-map {:.4e} logits, size {:.4e} cells, offset {:.4e} cells |\n",
        d.hm, d.wh, d.off
    );
    s += &format!("| batch-norms folded | {} layers |\n", r.folded_batch_norms);
    s += &format!("| crossbars | {} crossbars |\n", t.crossbars);
    s += &format!("| crossbar reads | {} reads |\n", t.crossbar_reads);
    s += &format!("| ADC conversions | {} conversions |\n", t.adc_conversions);
    s += &format!(
        "| ADC saturations | {} conversions ({:.4} %) |\n",
        t.adc_saturations,
        100.0 * r.adc_saturation_rate
    );
    s += &format!("| MACs | {} MACs |\n\n", t.macs);
    s +=
        "| layer | crossbars | ADC conversions | saturation rate | MACs |\n|---|---|---|---|---|\n";
    for l in &r.layers {
        s += &format!(
            "| {} | {} | {} | {:.4} % | {} |\n",
            l.layer,
            l.stats.crossbars,
            l.stats.adc_conversions,
            100.0 * l.stats.saturation_rate(),
            l.stats.macs
        );
    }
    s
}
