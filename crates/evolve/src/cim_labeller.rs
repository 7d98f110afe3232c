//! The experiment's `[labeller]` with `kind = "cim"`: the global `Detector` programmed onto the
//! simulated chip (`couple::CimLabeller`), its tensors read from the VarStore as the
//! checkpoint would hold them. Calibration frames are the source stream's held-out rule on the
//! seed after the labeller's (never labelled). After co-evolution, `reprogram` writes the new
//! global model's weights (requantised, fresh noise draw, the write cost counted again).

use super::coevolve::copy_model;
use super::config::{LabellerKind, LabellerSpec};
use super::error::{EvolveError, Result};
use super::labeller::OwnedTorchLabeller;
use ndarray::{ArrayD, IxDyn};
use nestevo_arch::{apply_overrides, load_arch};
use nestevo_cim::{Backend, NoiseMode, NoiseSpec};
use nestevo_couple::label::DeviceCost;
use nestevo_couple::label::Labeller;
use nestevo_couple::{ChipSetup, CimLabeller};
use nestevo_data::StreamId;
use nestevo_eval::HeldOut;
use nestevo_model::Tensors;
use nestevo_train::detector::Detector;
use std::path::Path;
use tch::Kind;

/// The VarStore's tensors as the simulator reads them (names as the checkpoint's).
pub fn tensors_of(model: &Detector) -> Result<Tensors> {
    let mut t = Tensors {
        source: format!("global model {} (in memory)", model.desc.name).into(),
        ..Default::default()
    };
    for (name, var) in model.vs.variables() {
        let shape: Vec<usize> = var.size().iter().map(|&v| v as usize).collect();
        let v = Vec::<f32>::try_from(
            var.to_device(tch::Device::Cpu)
                .to_kind(Kind::Float)
                .contiguous()
                .reshape(-1),
        )
        .map_err(|e| EvolveError::Fault(format!("tensor `{name}`: {e}")))?;
        let a = ArrayD::from_shape_vec(IxDyn(&shape), v).expect("numel matches shape");
        t.insert(&name, a);
    }
    Ok(t)
}

/// The chip a `[labeller]` section describes (arch with its overrides, noise, write cost).
pub fn chip_setup(spec: &LabellerSpec) -> Result<ChipSetup> {
    let bad = |e: String| EvolveError::BadInput(format!("[labeller]: {e}"));
    let arch = load_arch(Path::new(&spec.arch)).map_err(|e| bad(e.to_string()))?;
    let arch = apply_overrides(&arch, &spec.set, &spec.arch).map_err(|e| bad(e.to_string()))?;
    let mode: NoiseMode = spec
        .noise
        .parse()
        .map_err(|e: nestevo_core::error::Invalid| bad(format!("noise: {e}")))?;
    let noise =
        NoiseSpec::from_flags(mode, spec.mu, 0.0, spec.seed).map_err(|e| bad(e.to_string()))?;
    Ok(ChipSetup {
        spec: arch,
        noise,
        write: spec.write,
        backend: Backend::cpu(),
    })
}

/// The global model on the chip, when the section asks for it (`kind = "cim"`); `None` for
/// `kind = "torch"` (the loop keeps its `TorchLabeller`).
pub fn cim_labeller(global: &Detector, spec: &LabellerSpec) -> Result<Option<CimLabeller>> {
    if spec.kind != LabellerKind::Cim {
        return Ok(None);
    }
    cim_labeller_at(global, spec, 0).map(Some)
}

/// The `programming`-th programming of `global` onto the section's chip (fresh noise from
/// `seed + programming`).
pub fn cim_labeller_at(
    global: &Detector,
    spec: &LabellerSpec,
    programming: u64,
) -> Result<CimLabeller> {
    let setup = chip_setup(spec)?;
    let [_, h, w] = global.input_chw();
    let calib = HeldOut::new(StreamId::Source, spec.calib_frames)
        .calibration(spec.calib_frames)
        .render(w, h)?;
    let t = tensors_of(global)?;
    CimLabeller::with_generation(&global.desc, &t, setup, calib, programming)
        .map_err(|e| EvolveError::Fault(format!("CIM labeller: {e}")))
}

/// The edge's labeller factory (`edge::LabellerFactory`) of the experiment's `[labeller]`:
/// LibTorch for `kind = "torch"`, else the global model programmed onto the chip, afresh at
/// every (re)programming (requantised, fresh noise, the write cost counted in `program_cost`).
pub fn labeller_factory(spec: &LabellerSpec) -> LabellerFactory {
    if spec.kind != LabellerKind::Cim {
        return torch_labeller();
    }
    let spec = spec.clone();
    Box::new(move |g: &Detector, programming: usize| {
        let l = cim_labeller_at(g, &spec, programming as u64)?;
        Ok(Box::new(l) as Box<dyn nestevo_couple::label::Labeller + Send>)
    })
}

/// Programs the new global model (after co-evolution) onto the labeller's chip.
pub fn reprogram(l: &CimLabeller, global: &Detector) -> Result<DeviceCost> {
    let t = tensors_of(global)?;
    l.reprogram(&t)
        .map_err(|e| EvolveError::Fault(format!("CIM labeller reprogram: {e}")))
}

/// Builds the labeller of a global model; `programming` counts how often the global model
/// has been (re)programmed (0 for the first), so a simulated chip can draw fresh noise.
pub type LabellerFactory = Box<dyn Fn(&Detector, usize) -> Result<Box<dyn Labeller + Send>> + Send>;

/// The LibTorch labeller on a copy of the global model.
pub fn torch_labeller() -> LabellerFactory {
    Box::new(|g: &Detector, _| {
        Ok(Box::new(OwnedTorchLabeller(copy_model(g, &g.desc.name)?)) as Box<dyn Labeller + Send>)
    })
}
