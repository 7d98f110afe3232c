//! GPU (or CPU) versus the simulated ISAAC for the global model's inference on N frames (the
//! paper's Table 6). The measured side is LibTorch's (the trainer measures it and hands the
//! figures over as `Measured`); the chip side is one bit-faithful `run_detector` execution of
//! the same frames: its modelled pipeline time and energy, and its mAP against the float mAP.
//! Beside it the same comparison through the mapper alone for a network of the paper's size
//! (a ResNet-50 backbone at 1280x720), whose LibTorch time is measured on a few frames and
//! scaled to N (stated as such).

use nestevo_arch::ArchSpec;
use nestevo_couple::detector::RunReport;
use nestevo_couple::label::DeviceCost;
use nestevo_couple::CoupleError;
use nestevo_eval::{with_ci, Interval, MapReport};
use nestevo_model::ModelDesc;
use nestevo_ppa::network_report;
use serde::Serialize;
use std::path::Path;

/// A measured LibTorch run.
#[derive(Debug, Clone, Serialize)]
pub struct Measured {
    pub device: String,
    pub frames: usize,
    pub batch: usize,
    pub load_s: f64,
    pub move_s: f64,
    pub infer_s: f64,
    pub weights_bytes: u64,
    pub activation_bytes: u64,
}

/// The global model both ways on the same frames.
#[derive(Debug, Clone, Serialize)]
pub struct GlobalSide {
    pub model: String,
    pub frames: usize,
    pub measured: Measured,
    /// mAP@0.5 of the LibTorch detections on the frames, with its 95 % bootstrap interval
    /// over frames (as the bit-faithful run's).
    pub torch_map50: f64,
    pub torch_map50_ci: Option<Interval>,
    pub arch: String,
    /// Modelled: the mapped pipeline's time for the frames, s.
    pub isaac_time_s: f64,
    pub isaac_energy_j: f64,
    pub isaac_chips: u64,
    /// Programming the weights (assumed write cost, `WriteCost`).
    pub isaac_program: DeviceCost,
    /// Bit-faithful run: mAP@0.5 of the simulator's float reference and of the crossbars.
    pub float_map50: f64,
    pub float_map50_ci: Option<Interval>,
    pub cim_map50: f64,
    pub cim_map50_ci: Option<Interval>,
    pub cim_vs_float_map50: f64,
    /// Wall time of the bit-faithful simulation on this machine, s.
    pub simulation_wall_s: f64,
}

/// The mapper-only comparison for a large network.
#[derive(Debug, Clone, Serialize)]
pub struct MapperSide {
    pub model: String,
    pub input: [usize; 3],
    pub frames: usize,
    /// Measured on `measured.frames` frames; `torch_time_s` scales its move+infer to `frames`.
    pub measured: Option<Measured>,
    pub torch_time_s: Option<f64>,
    pub isaac_time_s: f64,
    pub isaac_energy_j: f64,
    pub isaac_chips: u64,
    pub isaac_period_us: f64,
    pub isaac_latency_us: f64,
}

#[derive(Debug, Clone, Serialize)]
pub struct GpuVsCim {
    pub global: GlobalSide,
    pub mapper: Option<MapperSide>,
}

/// The global model's side by side from the measured run and the bit-faithful run.
pub fn global_side(
    measured: Measured,
    torch: &MapReport,
    run: &RunReport,
    program: DeviceCost,
) -> GlobalSide {
    GlobalSide {
        model: run.model.clone(),
        frames: run.frames,
        measured,
        torch_map50: torch.map50,
        torch_map50_ci: torch.ci95.map(|c| c.map50),
        arch: run.arch.clone(),
        isaac_time_s: run.cost.pipeline_time_us * 1e-6,
        isaac_energy_j: run.cost.energy_total_uj * 1e-6,
        isaac_chips: run.cost.chips,
        isaac_program: program,
        float_map50: run.float.map50,
        float_map50_ci: run.float.ci95.map(|c| c.map50),
        cim_map50: run.cim.map50,
        cim_map50_ci: run.cim.ci95.map(|c| c.map50),
        cim_vs_float_map50: run.cim_vs_float.map50,
        simulation_wall_s: run.cim_seconds,
    }
}

/// The mapper's figures for `frames` frames of `desc`, with a measured run when there is one.
pub fn mapper_side(
    spec: &ArchSpec,
    desc: &ModelDesc,
    frames: usize,
    measured: Option<Measured>,
) -> Result<MapperSide, CoupleError> {
    let r = network_report(spec, desc, frames as u64)?;
    let torch_time_s = measured
        .as_ref()
        .map(|m| (m.move_s + m.infer_s) / m.frames.max(1) as f64 * frames as f64);
    Ok(MapperSide {
        model: desc.name.clone(),
        input: desc.input,
        frames,
        measured,
        torch_time_s,
        isaac_time_s: r.timing.total_ns * 1e-9,
        isaac_energy_j: r.energy_total_uj * 1e-6,
        isaac_chips: r.chips,
        isaac_period_us: r.timing.period_ns / 1e3,
        isaac_latency_us: r.timing.latency_ns / 1e3,
    })
}

fn mib(b: u64) -> f64 {
    b as f64 / (1024.0 * 1024.0)
}

/// Table 6 as Markdown.
pub fn render(r: &GpuVsCim) -> String {
    let g = &r.global;
    let m = &g.measured;
    let mut s = format!(
        "global model `{}`, {} frames; LibTorch on {} (batch {}), simulated {} (bit-faithful)\n\n",
        g.model, g.frames, m.device, m.batch, g.arch
    );
    s += &format!(
        "| quantity | LibTorch ({}) | simulated {} |\n|---|---|---|\n",
        m.device, g.arch
    );
    s += &format!(
        "| loading the model | {:.4} s (checkpoint to network) | {:.3e} s programming (assumed write cost, {:.3e} J) |\n",
        m.load_s, g.isaac_program.seconds, g.isaac_program.energy_j
    );
    s += &format!(
        "| moving data + inferring | {:.4} s + {:.4} s = {:.4} s (measured) | {:.6} s (modelled pipeline, {} chip(s)) |\n",
        m.move_s, m.infer_s, m.move_s + m.infer_s, g.isaac_time_s, g.isaac_chips
    );
    s += &format!(
        "| device memory | {:.2} MiB weights + {:.2} MiB activations of one batch | weights in the crossbars |\n",
        mib(m.weights_bytes), mib(m.activation_bytes)
    );
    s += &format!(
        "| energy | not measured | {:.4e} J (counted events) |\n",
        g.isaac_energy_j
    );
    s += &format!(
        "| mAP@0.5 (95 % CI over frames) | {} | {} (simulator float reference {}; against the float detections {:.4}) |\n",
        with_ci(g.torch_map50, g.torch_map50_ci),
        with_ci(g.cim_map50, g.cim_map50_ci),
        with_ci(g.float_map50, g.float_map50_ci),
        g.cim_vs_float_map50
    );
    s += &format!(
        "| wall time of the simulation on this machine | | {:.2} s |\n",
        g.simulation_wall_s
    );
    if let Some(p) = &r.mapper {
        s += &format!(
            "\nmapper only: `{}` at {}x{}, {} frames on {}\n\n| quantity | LibTorch | simulated |\n|---|---|---|\n",
            p.model, p.input[2], p.input[1], p.frames, g.arch
        );
        match (&p.measured, p.torch_time_s) {
            (Some(mm), Some(t)) => {
                s += &format!(
                    "| moving data + inferring | {t:.2} s ({} on {} frames measured: {:.3} s, scaled) | {:.4} s ({} chip(s), period {:.1} us, latency {:.1} us) |\n",
                    mm.device, mm.frames, mm.move_s + mm.infer_s, p.isaac_time_s, p.isaac_chips,
                    p.isaac_period_us, p.isaac_latency_us
                );
                s += &format!(
                    "| loading the model | {:.3} s (network built, fresh weights) | |\n",
                    mm.load_s
                );
                s += &format!(
                    "| device memory | {:.1} MiB weights + {:.1} MiB activations | |\n",
                    mib(mm.weights_bytes),
                    mib(mm.activation_bytes)
                );
            }
            _ => {
                s += &format!(
                    "| moving data + inferring | not measured | {:.4} s ({} chip(s)) |\n",
                    p.isaac_time_s, p.isaac_chips
                );
            }
        }
        s += &format!("| energy | not measured | {:.4e} J |\n", p.isaac_energy_j);
    }
    s
}

/// Bar plot: LibTorch move+infer against ISAAC time, for each network.
pub fn plot(r: &GpuVsCim, path: &Path) -> Result<(), String> {
    let g = &r.global;
    let mut groups = vec![format!("{} ({} frames)", g.model, g.frames)];
    let mut torch = vec![g.measured.move_s + g.measured.infer_s];
    let mut isaac = vec![g.isaac_time_s];
    let mut load = vec![g.measured.load_s];
    if let Some(p) = &r.mapper {
        groups.push(format!("{} ({} frames)", p.model, p.frames));
        torch.push(p.torch_time_s.unwrap_or(0.0));
        isaac.push(p.isaac_time_s);
        load.push(p.measured.as_ref().map_or(0.0, |m| m.load_s));
    }
    let dev = &g.measured.device;
    crate::plot::bars(
        path,
        &format!(
            "inference time: LibTorch on {dev} (measured) vs simulated {}",
            g.arch
        ),
        "seconds (log scale)",
        &groups,
        &[
            (format!("LibTorch {dev}: move + infer"), torch),
            (format!("LibTorch {dev}: load model"), load),
            (format!("{} pipeline (modelled)", g.arch), isaac),
        ],
    )
}
