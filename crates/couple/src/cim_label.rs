//! The global model on the simulated chip as the loop's labeller (`label::Labeller`): every
//! pseudo box, soft output and feature map comes from the bit-faithful crossbar forward of the
//! programmed network (arch with its overrides, noise mode, mu, seed).
//!
//! Cost, modelled, not measured: a `label` call of F frames takes the mapped pipeline's time for
//! F frames (`ppa::timing`: latency + (F - 1) x period) and the energy of its counted events
//! (`energy::run_cost`). Programming writes every used cell once: Table I gives no write cost,
//! so `WriteCost` is an assumption (below, configurable) and is counted at every (re)program.
//! A reprogram (after co-evolution) requantises the new weights and draws fresh noise from
//! `seed + generation`.

use super::energy::run_cost;
use super::label::{
    DeviceCost, FeatureMap, LabelError, LabelRequest, Labelled, Labeller, PseudoBox, SoftOutputs,
};
use super::{batch_from_frames, CoupleError};
use ndarray::{s, Array3};
use nestevo_arch::ArchSpec;
use nestevo_cim::network::merge_runs;
use nestevo_cim::{Backend, CimNetwork, NoiseSpec};
use nestevo_core::error::Context;
use nestevo_data::Frame;
use nestevo_eval::decode::{decode, DecodeConfig, Heads};
use nestevo_model::{ModelDesc, Tensors};
use nestevo_ppa::map_network;
use serde::{Deserialize, Serialize};
use std::sync::Mutex;

/// Frames per crossbar forward (bounds im2col and bit-plane memory).
const BATCH: usize = 8;

/// The cost of writing the weights into the crossbars. Table I of ISAAC (and the paper) gives
/// none: ISAAC programs once and never rewrites. Assumed defaults: one write(-and-verify) pulse
/// train of 100 ns per crossbar row, all crossbars in parallel (each has its own row drivers),
/// and 10 pJ per written cell; both of the order reported for ReRAM crossbar writes (tens to
/// hundreds of ns per write, pJ-scale energy per cell; e.g. Xu et al., "Overcoming the
/// challenges of crossbar resistive memory architectures", HPCA 2015). They are assumptions,
/// not Table I figures; set them in the `[labeller]` section.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WriteCost {
    /// Time to write one crossbar row, ns.
    pub row_write_ns: f64,
    /// Energy to write one cell, pJ.
    pub cell_write_pj: f64,
}

impl Default for WriteCost {
    fn default() -> Self {
        WriteCost {
            row_write_ns: 100.0,
            cell_write_pj: 10.0,
        }
    }
}

impl WriteCost {
    /// Both figures finite and >= 0.
    pub fn check(&self) -> Result<(), CoupleError> {
        for (name, v) in [
            ("row_write_ns", self.row_write_ns),
            ("cell_write_pj", self.cell_write_pj),
        ] {
            nestevo_core::check!(
                v.is_finite() && v >= 0.0,
                "write cost {name} = {v}: allowed a finite value >= 0"
            );
        }
        Ok(())
    }

    /// Time and energy of programming `desc` onto `spec`: every crossbar of the mapping (all
    /// copies) written row by row, crossbars in parallel; energy per used weight cell
    /// (K x N x slices per copy).
    pub fn program(&self, spec: &ArchSpec, desc: &ModelDesc) -> Result<DeviceCost, CoupleError> {
        let m = map_network(spec, desc)?;
        let slices = spec.slices_per_weight() as u64;
        let cells: u64 = m
            .layers
            .iter()
            .map(|l| l.groups * l.k * l.n * slices * l.copies)
            .sum();
        Ok(DeviceCost {
            seconds: spec.crossbar.rows as f64 * self.row_write_ns * 1e-9,
            energy_j: cells as f64 * self.cell_write_pj * 1e-12,
        })
    }
}

/// What the labeller runs on.
#[derive(Debug, Clone)]
pub struct ChipSetup {
    pub spec: ArchSpec,
    /// Noise of the first programming; reprogram `g` draws from `seed + g`.
    pub noise: NoiseSpec,
    pub write: WriteCost,
    pub backend: Backend,
}

struct State {
    net: CimNetwork,
    last: Option<DeviceCost>,
    program: DeviceCost,
    generation: u64,
}

/// A detector programmed onto the simulated chip.
pub struct CimLabeller {
    desc: ModelDesc,
    setup: ChipSetup,
    /// Calibration frames: the activation scales are set on them at every programming.
    calib: Vec<Frame>,
    state: Mutex<State>,
}

impl CimLabeller {
    /// Programs `tensors` of `desc` onto the chip and calibrates on `calib` (never labelled).
    pub fn new(
        desc: &ModelDesc,
        tensors: &Tensors,
        setup: ChipSetup,
        calib: Vec<Frame>,
    ) -> Result<Self, CoupleError> {
        Self::with_generation(desc, tensors, setup, calib, 0)
    }

    /// `new` as the `generation`-th programming (noise drawn from `seed + generation`), for a
    /// caller that builds a fresh labeller at every reprogramming.
    pub fn with_generation(
        desc: &ModelDesc,
        tensors: &Tensors,
        setup: ChipSetup,
        calib: Vec<Frame>,
        generation: u64,
    ) -> Result<Self, CoupleError> {
        nestevo_core::check!(
            !calib.is_empty(),
            "CIM labeller: at least one calibration frame is needed"
        );
        setup.write.check()?;
        let net = program(desc, tensors, &setup, &calib, generation)?;
        let cost = setup.write.program(&setup.spec, desc)?;
        Ok(CimLabeller {
            desc: desc.clone(),
            setup,
            calib,
            state: Mutex::new(State {
                net,
                last: None,
                program: cost,
                generation,
            }),
        })
    }

    /// Programs new weights (the new global model after co-evolution): requantised, with a
    /// fresh noise draw; the write cost is counted again.
    pub fn reprogram(&self, tensors: &Tensors) -> Result<DeviceCost, CoupleError> {
        let mut st = self.state.lock().expect("labeller lock");
        let g = st.generation + 1;
        st.net = program(&self.desc, tensors, &self.setup, &self.calib, g)?;
        st.generation = g;
        st.program = self.setup.write.program(&self.setup.spec, &self.desc)?;
        Ok(st.program)
    }

    /// Programmings so far, the first included.
    pub fn programmings(&self) -> u64 {
        self.state.lock().expect("labeller lock").generation + 1
    }

    pub fn setup(&self) -> &ChipSetup {
        &self.setup
    }

    fn layer(&self, name: &str) -> Result<(usize, f32), LabelError> {
        let d = &self.desc;
        let i = d.index_of(name).ok_or_else(|| {
            let names: Vec<&str> = d.layers.iter().map(|l| l.name.as_str()).collect();
            LabelError::BadInput(format!(
                "model {}: no layer `{name}` to take features from; layers: {}",
                d.name,
                names.join(", ")
            ))
        })?;
        let shapes = d.shapes().map_err(|e| LabelError::Fault(e.to_string()))?;
        Ok((i, d.input[1] as f32 / shapes[i][1] as f32))
    }
}

fn program(
    desc: &ModelDesc,
    tensors: &Tensors,
    setup: &ChipSetup,
    calib: &[Frame],
    generation: u64,
) -> Result<CimNetwork, CoupleError> {
    let mut noise = setup.noise;
    noise.seed = noise.seed.wrapping_add(generation);
    let mut net = CimNetwork::new_on(desc, tensors, &setup.spec, &noise, &setup.backend)
        .map_err(CoupleError::from)
        .ctx(|| format!("model {} on accelerator {}", desc.name, setup.spec.name))?;
    net.calibrate(batch_from_frames(calib, &desc.name, desc.input)?.view())?;
    Ok(net)
}

impl Labeller for CimLabeller {
    fn describe(&self) -> String {
        let n = &self.setup.noise;
        format!(
            "{} on simulated {} (bit-faithful, noise {} mu {} seed {})",
            self.desc.name, self.setup.spec.name, n.mode, n.mu, n.seed
        )
    }

    fn label(&self, frames: &[Frame], req: &LabelRequest) -> Result<Vec<Labelled>, LabelError> {
        let [_, h, w] = self.desc.input;
        let layer = req
            .feature_layer
            .as_deref()
            .map(|n| self.layer(n))
            .transpose()?;
        let bad = |e: CoupleError| match nestevo_core::error::Kinded::kind(&e) {
            nestevo_core::error::ErrorKind::BadInput => LabelError::BadInput(e.to_string()),
            _ => LabelError::Fault(e.to_string()),
        };
        let mut st = self.state.lock().expect("labeller lock");
        let mut out = Vec::with_capacity(frames.len());
        let mut runs = Vec::new();
        for chunk in frames.chunks(BATCH) {
            let x = batch_from_frames(chunk, &self.desc.name, self.desc.input)
                .map_err(|e| bad(e.into()))?;
            let (all, r) = st
                .net
                .forward_cim_layers(x.view())
                .map_err(|e| bad(e.into()))?;
            merge_runs(&mut runs, r);
            let feats = layer.map(|(i, _)| all[i].clone());
            let heads = Heads::from_outputs(st.net.outputs_of(all)).map_err(|e| bad(e.into()))?;
            let stride = (h / heads.hm.dim().2) as f32;
            let cfg = DecodeConfig {
                min_score: req.min_score,
                stride,
                ..Default::default()
            };
            let ids: Vec<u64> = (0..chunk.len() as u64).collect();
            let mut boxes = vec![Vec::new(); chunk.len()];
            for d in decode(&heads, &ids, (h, w), &cfg).map_err(|e| bad(e.into()))? {
                boxes[d.image_id as usize].push(PseudoBox {
                    class: d.class,
                    score: d.score,
                    x0: d.x0,
                    y0: d.y0,
                    x1: d.x1,
                    y1: d.y1,
                });
            }
            let one = |a: &ndarray::Array4<f32>, b: usize| -> Array3<f32> {
                a.slice(s![b, .., .., ..]).to_owned()
            };
            for (b, (f, bx)) in chunk.iter().zip(boxes).enumerate() {
                out.push(Labelled {
                    frame: f.index,
                    boxes: bx,
                    soft: SoftOutputs {
                        hm: one(&heads.hm, b),
                        wh: one(&heads.wh, b),
                        off: one(&heads.off, b),
                        stride,
                    },
                    features: match (&feats, layer) {
                        (Some(t), Some((_, fs))) => Some(FeatureMap {
                            layer: req.feature_layer.clone().unwrap_or_default(),
                            data: one(t, b),
                            stride: fs,
                        }),
                        _ => None,
                    },
                });
            }
        }
        st.last = if frames.is_empty() {
            Some(DeviceCost::default())
        } else {
            let c = run_cost(&self.setup.spec, &self.desc, &runs, frames.len() as u64)
                .map_err(|e| LabelError::Fault(e.to_string()))?;
            Some(DeviceCost {
                seconds: c.pipeline_time_us * 1e-6,
                energy_j: c.energy_total_uj * 1e-6,
            })
        };
        Ok(out)
    }

    fn last_cost(&self) -> Option<DeviceCost> {
        self.state.lock().expect("labeller lock").last
    }

    fn program_cost(&self) -> Option<DeviceCost> {
        Some(self.state.lock().expect("labeller lock").program)
    }
}
