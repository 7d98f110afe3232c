//! Any network that is not a detector (an imported ONNX graph, a description with its
//! weights) on given inputs: the float reference and the bit-faithful outputs side by side,
//! their differences per output, the measured per-layer counts, the energy of those counts
//! (events x the performance model's per-event energies, plus the model's eDRAM, network,
//! digital and static energy, which the simulator does not count) and the pipeline time of
//! the mapped network for that many frames.

use super::counts::count_rows;
use super::energy::{crossbar_side_pj, run_cost};
use super::CoupleError;
use ndarray::{Array4, ArrayD, ArrayView4, Axis, IxDyn};
use nestevo_arch::ArchSpec;
use nestevo_cim::network::{merge_runs, total, LayerRun};
use nestevo_cim::{Backend, CimNetwork, LayerStats, NoiseSpec};
use nestevo_core::error::Context;
use nestevo_model::{ModelDesc, Op, Tensors};
use serde::Serialize;
use std::time::Instant;

type Result<T, E = CoupleError> = std::result::Result<T, E>;

/// `x` as [B, C, H, W]: given so (dimensions of size 1 may be left out or added, so [B, F]
/// feeds a network whose description input is [F, 1, 1]), or flat as [B, C*H*W]. Any other
/// shape with the right count (channels last, say) is refused: reinterpreting it would
/// scramble the frames.
pub fn as_frames(x: ArrayD<f32>, chw: [usize; 3], what: &str) -> Result<Array4<f32>> {
    let per: usize = chw.iter().product();
    let shape = x.shape().to_vec();
    let frame = shape.get(1..).unwrap_or(&[]);
    let squeezed = |d: &[usize]| d.iter().copied().filter(|&n| n != 1).collect::<Vec<_>>();
    let fits = squeezed(frame) == squeezed(&chw) || frame == [per].as_slice();
    nestevo_core::check!(
        fits && shape[0] >= 1,
        "{what}: shape {shape:?}; the network takes [batch, {}, {}, {}] (or [batch, {per}] flat), \
         channels first",
        chw[0],
        chw[1],
        chw[2]
    );
    nestevo_core::check!(
        x.iter().all(|v| v.is_finite()),
        "{what}: holds a non-finite value"
    );
    let b = shape[0];
    Ok(x.as_standard_layout()
        .into_owned()
        .into_shape_with_order((b, chw[0], chw[1], chw[2]))
        .expect("sizes checked"))
}

/// An output as the network's own layout: [B, n] after a linear or flatten layer (as ONNX
/// gives it), [B, C, H, W] otherwise.
pub fn output_layout(desc: &ModelDesc, output: &str, y: &Array4<f32>) -> ArrayD<f32> {
    let flat = desc
        .index_of(output)
        .is_some_and(|i| matches!(desc.layers[i].op, Op::Linear { .. } | Op::Flatten));
    let (b, c, h, w) = y.dim();
    let shape: Vec<usize> = if flat {
        vec![b, c * h * w]
    } else {
        vec![b, c, h, w]
    };
    y.as_standard_layout()
        .into_owned()
        .into_shape_with_order(IxDyn(&shape))
        .expect("contiguous")
}

/// Float versus crossbar outputs of one network output over all frames.
#[derive(Debug, Clone, Serialize)]
pub struct OutputDiff {
    pub output: String,
    pub shape: Vec<usize>,
    pub max_abs_diff: f32,
    /// Largest |float| (the scale the difference is read against).
    pub max_abs_float: f32,
    /// max_abs_diff / max_abs_float.
    pub relative: f64,
    pub rms_diff: f64,
}

/// One crossbar layer's measured counts and their energy.
#[derive(Debug, Clone, Serialize)]
pub struct LayerEnergy {
    pub layer: String,
    pub stats: LayerStats,
    /// ADC + sample-and-hold + DAC + crossbar reads + IMA shift-and-add, uJ.
    pub crossbar_energy_uj: f64,
}

#[derive(Debug, Clone, Serialize)]
pub struct GenericReport {
    pub arch: String,
    pub model: String,
    pub frames: usize,
    pub calib_frames: usize,
    pub noise: NoiseSpec,
    /// Engine of the crossbars (`cpu`, `torch` or `torch:VARIANT`).
    pub backend: String,
    /// Inputs per forward.
    pub batch: usize,
    pub folded_batch_norms: usize,
    pub outputs: Vec<OutputDiff>,
    pub layers: Vec<LayerEnergy>,
    pub total: LayerStats,
    pub adc_saturation_rate: f64,
    /// Energy of the measured crossbar-side events, all frames, uJ.
    pub crossbar_energy_uj: f64,
    /// The performance model's eDRAM, bus, router, chip-link, digital and static energy for
    /// the same frames (events the simulator does not count), uJ.
    pub other_energy_uj: f64,
    pub energy_total_uj: f64,
    pub energy_per_frame_uj: f64,
    /// The mapped pipeline (performance model) for this many frames.
    pub chips: u64,
    pub latency_us: f64,
    pub period_us: f64,
    pub frames_per_s: f64,
    pub pipeline_time_us: f64,
    pub program_seconds: f64,
    pub calibrate_seconds: f64,
    /// The float reference's own time: 0 where the calibration frames are the frames run (the
    /// calibration pass computed it, in `calibrate_seconds`).
    pub float_seconds: f64,
    pub cim_seconds: f64,
}

/// The run's report and its outputs (float, crossbar), in `desc.outputs` order.
pub struct GenericRun {
    pub report: GenericReport,
    pub float: Vec<Array4<f32>>,
    pub cim: Vec<Array4<f32>>,
}

/// How a network runs on the crossbars: its noise, the engine, and inputs per forward.
#[derive(Debug, Clone)]
pub struct GenericConfig {
    pub noise: NoiseSpec,
    pub backend: Backend,
    /// Inputs per forward (`FRAMES_PER_FORWARD` by default): more take more memory.
    pub batch: usize,
}

/// Programs the network on `run`'s engine, calibrates on `calib`, runs `x` in float and on the
/// crossbars.
pub fn run_generic(
    desc: &ModelDesc,
    tensors: &Tensors,
    spec: &ArchSpec,
    x: ArrayView4<f32>,
    calib: ArrayView4<f32>,
    run: &GenericConfig,
) -> Result<GenericRun> {
    let (noise, backend, batch) = (&run.noise, &run.backend, run.batch);
    nestevo_core::check!(batch >= 1, "--batch {batch}: allowed is 1 or more");
    let t0 = Instant::now();
    let mut net = CimNetwork::new_on(desc, tensors, spec, noise, backend)
        .ctx(|| format!("model {} on accelerator {}", desc.source, spec.name))?;
    let t1 = Instant::now();
    // Calibrating on the frames run (the default) is the float reference's own pass.
    let reference = net.calibrate_outputs(calib)?;
    let reference = (calib == x).then_some(reference);
    let t2 = Instant::now();
    let mut float: Vec<Vec<Array4<f32>>> = vec![Vec::new(); desc.outputs.len()];
    let mut cim: Vec<Vec<Array4<f32>>> = vec![Vec::new(); desc.outputs.len()];
    let mut runs: Vec<LayerRun> = Vec::new();
    let (mut float_s, mut cim_s) = (0.0, 0.0);
    let frames = x.dim().0;
    for start in (0..frames).step_by(batch) {
        let chunk = x.slice_axis(Axis(0), (start..(start + batch).min(frames)).into());
        let ta = Instant::now();
        let f = match &reference {
            Some(all) => all
                .iter()
                .map(|a| {
                    a.slice_axis(Axis(0), (start..start + chunk.dim().0).into())
                        .to_owned()
                })
                .collect(),
            None => net.forward_float(chunk)?,
        };
        let tb = Instant::now();
        let (c, r) = net.forward_cim(chunk)?;
        let tc = Instant::now();
        float_s += (tb - ta).as_secs_f64();
        cim_s += (tc - tb).as_secs_f64();
        merge_runs(&mut runs, r);
        for (k, (f, c)) in f.into_iter().zip(c).enumerate() {
            float[k].push(f);
            cim[k].push(c);
        }
    }
    let cat = |parts: Vec<Array4<f32>>| -> Result<Array4<f32>> {
        let views: Vec<_> = parts.iter().map(|p| p.view()).collect();
        Ok(ndarray::concatenate(Axis(0), &views).expect("batches of one network agree"))
    };
    let float: Vec<Array4<f32>> = float.into_iter().map(cat).collect::<Result<_>>()?;
    let cim: Vec<Array4<f32>> = cim.into_iter().map(cat).collect::<Result<_>>()?;
    let outputs = desc
        .outputs
        .iter()
        .zip(float.iter().zip(&cim))
        .map(|(name, (f, c))| {
            let (mut max_d, mut max_f, mut sq) = (0f32, 0f32, 0f64);
            for (a, b) in f.iter().zip(c) {
                let d = (a - b).abs();
                max_d = max_d.max(d);
                max_f = max_f.max(a.abs());
                sq += (d as f64).powi(2);
            }
            OutputDiff {
                output: name.clone(),
                shape: output_layout(desc, name, f).shape().to_vec(),
                max_abs_diff: max_d,
                max_abs_float: max_f,
                relative: if max_f > 0.0 {
                    (max_d / max_f) as f64
                } else {
                    max_d as f64
                },
                rms_diff: (sq / f.len().max(1) as f64).sqrt(),
            }
        })
        .collect();
    // One definition of every energy: the run's counted events through `energy::run_cost`.
    let cost = run_cost(spec, desc, &runs, frames as u64)?;
    let layers: Vec<LayerEnergy> = cost
        .layers
        .iter()
        .map(|l| LayerEnergy {
            layer: l.layer.clone(),
            stats: l.stats,
            crossbar_energy_uj: crossbar_side_pj(&l.energy_pj) / 1e6,
        })
        .collect();
    let tot = total(&runs);
    let xbar_uj = crossbar_side_pj(&cost.energy_pj) / 1e6;
    let other_uj = cost.energy_total_uj - xbar_uj;
    let report = GenericReport {
        arch: spec.name.clone(),
        model: desc.name.clone(),
        frames,
        calib_frames: calib.dim().0,
        noise: *noise,
        backend: backend.name().to_string(),
        batch,
        folded_batch_norms: net.folded_layers().len(),
        outputs,
        layers,
        total: tot,
        adc_saturation_rate: tot.saturation_rate(),
        crossbar_energy_uj: xbar_uj,
        other_energy_uj: other_uj,
        energy_total_uj: xbar_uj + other_uj,
        energy_per_frame_uj: (xbar_uj + other_uj) / frames.max(1) as f64,
        chips: cost.chips,
        latency_us: cost.latency_us,
        period_us: cost.period_us,
        frames_per_s: cost.frames_per_s,
        pipeline_time_us: cost.pipeline_time_us,
        program_seconds: (t1 - t0).as_secs_f64(),
        calibrate_seconds: (t2 - t1).as_secs_f64(),
        float_seconds: float_s,
        cim_seconds: cim_s,
    };
    Ok(GenericRun { report, float, cim })
}

/// The report as Markdown tables (every figure with its unit).
pub fn render_generic(r: &GenericReport) -> String {
    let n = &r.noise;
    let mut s = format!(
        "model {} on {} ({} engine, {} per forward) | {} frames (calibrated on {}) | noise {:?} mu {} seed {}\n\n",
        r.model, r.arch, r.backend, r.batch, r.frames, r.calib_frames, n.mode, n.mu, n.seed
    );
    s += "| output | shape | max abs diff | max abs float | relative | rms diff |\n|---|---|---|---|---|---|\n";
    for o in &r.outputs {
        s += &format!(
            "| {} | {:?} | {:.4e} | {:.4e} | {:.4e} | {:.4e} |\n",
            o.output, o.shape, o.max_abs_diff, o.max_abs_float, o.relative, o.rms_diff
        );
    }
    let t = &r.total;
    s += "\n| quantity | value |\n|---|---|\n";
    s += &count_rows(r.folded_batch_norms, t, r.adc_saturation_rate);
    s += &format!(
        "| crossbar-side energy (counted events) | {:.3} uJ |\n",
        r.crossbar_energy_uj
    );
    s += &format!(
        "| eDRAM, network, digital, static energy (model) | {:.3} uJ |\n",
        r.other_energy_uj
    );
    s += &format!(
        "| energy | {:.3} uJ total, {:.3} uJ per frame |\n",
        r.energy_total_uj, r.energy_per_frame_uj
    );
    s += &format!(
        "| pipeline ({} chip(s)) | latency {:.2} us, period {:.2} us ({:.1} frames/s), {} frames in {:.2} us |\n",
        r.chips, r.latency_us, r.period_us, r.frames_per_s, r.frames, r.pipeline_time_us
    );
    s += &format!(
        "| wall time | float {:.3} s, crossbars {:.3} s (+ {:.3} s programming, {:.3} s calibration) |\n\n",
        r.float_seconds, r.cim_seconds, r.program_seconds, r.calibrate_seconds
    );
    s += "| layer | crossbars | ADC conversions | saturation rate | MACs | energy |\n|---|---|---|---|---|---|\n";
    for l in &r.layers {
        s += &format!(
            "| {} | {} | {} | {:.4} % | {} | {:.4} uJ |\n",
            l.layer,
            l.stats.crossbars,
            l.stats.adc_conversions,
            100.0 * l.stats.saturation_rate(),
            l.stats.macs,
            l.crossbar_energy_uj
        );
    }
    s
}
