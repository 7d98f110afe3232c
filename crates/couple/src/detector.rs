//! A trained detector on a stream, float and on crossbars side by side: the figures of
//! `nestevo cim run`. One execution gives three answers: accuracy (mAP@0.5 of both against the
//! ground truth, and of the crossbar detections against the float model's own detections at or
//! above `FLOAT_REFERENCE_MIN_SCORE`, which isolates what the hardware changes), energy from the
//! run's counted events (`energy::run_cost`, per layer and per component) with the mapped
//! pipeline's time for those frames, and the per-layer ADC saturation rate.

use super::counts::count_rows;
use super::energy::{render_cost, run_cost, RunCost};
use super::{batch_from_frames, CoupleError};
use ndarray::Array4;
use nestevo_arch::ArchSpec;
use nestevo_cim::network::{merge_runs, total, LayerRun};
use nestevo_cim::{Backend, CimNetwork, LayerStats, NoiseSpec};
use nestevo_core::error::Context;
use nestevo_data::GtBox;
use nestevo_eval::decode::{decode, DecodeConfig, Heads};
use nestevo_eval::{evaluate_with_ci, ground_truth, with_ci, Detection, HeldOut, MapReport};
use nestevo_model::{ModelDesc, Tensors};
use serde::Serialize;
use std::time::Instant;

/// Frames per forward unless a run says otherwise (`RunConfig::batch`, `--batch`): bounds the
/// memory of im2col and the bit planes on the CPU kernels.
pub const FRAMES_PER_FORWARD: usize = 8;

/// Float detections at or above this score are the reference the crossbar detections are
/// scored against (the evolution presets' pseudo-label threshold).
pub const FLOAT_REFERENCE_MIN_SCORE: f32 = 0.3;

/// Detections at or above `min_score` as ground truth per frame (every frame of `ids` listed).
pub fn as_reference(ids: &[u64], dets: &[Detection], min_score: f32) -> Vec<(u64, Vec<GtBox>)> {
    ids.iter()
        .map(|&id| {
            let boxes = dets
                .iter()
                .filter(|d| d.image_id == id && d.score >= min_score)
                .map(|d| GtBox {
                    class: d.class,
                    x0: d.x0,
                    y0: d.y0,
                    x1: d.x1,
                    y1: d.y1,
                })
                .collect();
            (id, boxes)
        })
        .collect()
}

/// What to run.
#[derive(Debug, Clone)]
pub struct RunConfig {
    /// The scored frames (the held-out rule, `eval::heldout`).
    pub frames: HeldOut,
    /// Calibration frames: the same rule on the next seed (never scored).
    pub calib_frames: usize,
    pub noise: NoiseSpec,
    /// Engine of the crossbars.
    pub backend: Backend,
    /// Frames per forward (`FRAMES_PER_FORWARD` by default): more take more memory and make
    /// fewer, larger calls into the engine (what a GPU's launch overhead favours).
    pub batch: usize,
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
    /// The scored frames in words (the held-out rule).
    pub frame_rule: String,
    pub noise: NoiseSpec,
    /// Engine of the crossbars (`cpu`, `torch` or `torch:VARIANT`).
    pub backend: String,
    /// Frames per forward.
    pub batch: usize,
    pub folded_batch_norms: usize,
    pub float: MapReport,
    pub cim: MapReport,
    /// Crossbar detections scored against the float detections (score >= 0.3) as ground truth.
    pub cim_vs_float: MapReport,
    pub max_abs_diff: HeadDiff,
    pub layers: Vec<LayerRun>,
    pub total: LayerStats,
    pub adc_saturation_rate: f64,
    /// Energy of the counted events and the mapped pipeline's time for these frames.
    pub cost: RunCost,
    pub program_seconds: f64,
    pub calibrate_seconds: f64,
    pub float_seconds: f64,
    pub cim_seconds: f64,
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
) -> Result<RunReport, CoupleError> {
    nestevo_core::check!(cfg.frames.frames >= 1, "--frames must be at least 1");
    nestevo_core::check!(cfg.calib_frames >= 1, "--calib-frames must be at least 1");
    nestevo_core::check!(
        cfg.batch >= 1,
        "--batch {}: allowed is 1 or more",
        cfg.batch
    );
    let t0 = Instant::now();
    let mut net = CimNetwork::new_on(desc, tensors, spec, &cfg.noise, &cfg.backend)
        .map_err(CoupleError::from)
        .ctx(|| format!("model {} on accelerator {}", desc.source, spec.name))?;
    let t1 = Instant::now();
    let [_, h, w] = desc.input;
    let calib = cfg.frames.calibration(cfg.calib_frames).render(w, h)?;
    net.calibrate(batch_from_frames(&calib, &desc.name, desc.input)?.view())?;
    let t2 = Instant::now();
    let frames = cfg.frames.render(w, h)?;
    let (mut dets_f, mut dets_c) = (Vec::<Detection>::new(), Vec::<Detection>::new());
    let mut diff = HeadDiff::default();
    let mut runs = Vec::new();
    let (mut float_s, mut cim_s) = (0.0, 0.0);
    let mut dcfg = DecodeConfig::default();
    for chunk in frames.chunks(cfg.batch) {
        let x = batch_from_frames(chunk, &desc.name, desc.input)?;
        let ids: Vec<u64> = chunk.iter().map(|f| f.index).collect();
        let ta = Instant::now();
        let hf = Heads::from_outputs(net.forward_float(x.view())?)
            .map_err(CoupleError::from)
            .ctx(|| format!("model {}", desc.source))?;
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
    let ids: Vec<u64> = frames.iter().map(|f| f.index).collect();
    let reference = as_reference(&ids, &dets_f, FLOAT_REFERENCE_MIN_SCORE);
    let tot = total(&runs);
    let cost = run_cost(spec, desc, &runs, frames.len() as u64)?;
    Ok(RunReport {
        arch: spec.name.clone(),
        model: desc.name.clone(),
        stream: cfg.frames.stream.name().to_string(),
        frames: cfg.frames.frames,
        calib_frames: cfg.calib_frames,
        seed: cfg.frames.seed,
        frame_rule: cfg.frames.describe(),
        noise: cfg.noise,
        backend: cfg.backend.name().to_string(),
        batch: cfg.batch,
        folded_batch_norms: net.folded_layers().len(),
        float: evaluate_with_ci(&gt, &dets_f),
        cim: evaluate_with_ci(&gt, &dets_c),
        cim_vs_float: evaluate_with_ci(&reference, &dets_c),
        max_abs_diff: diff,
        layers: runs,
        total: tot,
        adc_saturation_rate: tot.saturation_rate(),
        cost,
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
        "model {} on {} ({} engine, {} frames per forward) | {} (calibrated on {} frames of the next seed) | noise {:?} mu {} seed {}\n\n",
        r.model, r.arch, r.backend, r.batch, r.frame_rule, r.calib_frames, n.mode, n.mu, n.seed
    );
    s += "| quantity | float | crossbars |\n|---|---|---|\n";
    s += &format!(
        "| mAP@0.5 (95 % CI) | {} | {} |\n",
        with_ci(r.float.map50, r.float.ci95.map(|c| c.map50)),
        with_ci(r.cim.map50, r.cim.ci95.map(|c| c.map50))
    );
    s += &format!(
        "| mAP@[.5:.95] (95 % CI) | {} | {} |\n",
        with_ci(r.float.map, r.float.ci95.map(|c| c.map)),
        with_ci(r.cim.map, r.cim.ci95.map(|c| c.map))
    );
    s += &format!(
        "| mAP@0.5 against the float detections (score >= {FLOAT_REFERENCE_MIN_SCORE}) | 1 (reference) | {} |\n",
        with_ci(r.cim_vs_float.map50, r.cim_vs_float.ci95.map(|c| c.map50))
    );
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
    s += &count_rows(r.folded_batch_norms, t, r.adc_saturation_rate);
    s += "\n";
    s += &render_cost(&r.cost);
    s
}
