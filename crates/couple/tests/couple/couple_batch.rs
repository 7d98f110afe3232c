//! Frames per forward (`RunConfig::batch`): the engine sees that many frames' vectors per run,
//! and the report's figures do not change.

use nestevo_arch::preset;
use nestevo_cim::backend::KernelEngine;
use nestevo_cim::{Backend, BackendError, CellNoise, NoiseSpec, XbarEngine, XbarMatrix};
use nestevo_couple::{load_checkpoint, run_detector, RunConfig};
use nestevo_data::StreamId;
use nestevo_eval::HeldOut;
use nestevo_kernels::{Counts, InputMode, ReadNoise, XbarConfig};
use std::path::Path;
use std::sync::{Arc, Mutex};

/// The CPU kernels, recording the vectors of every run.
struct Counting(Arc<Mutex<Vec<usize>>>);
struct CountingMatrix(Box<dyn XbarMatrix>, Arc<Mutex<Vec<usize>>>);

impl XbarEngine for Counting {
    fn name(&self) -> &'static str {
        "counting"
    }
    fn program(
        &self,
        cfg: &XbarConfig,
        w: &[i64],
        k: usize,
        n: usize,
        cells: Option<CellNoise>,
    ) -> Result<Box<dyn XbarMatrix>, BackendError> {
        let m = KernelEngine.program(cfg, w, k, n, cells)?;
        Ok(Box::new(CountingMatrix(m, self.0.clone())))
    }
}

impl XbarMatrix for CountingMatrix {
    fn shape(&self) -> (usize, usize) {
        self.0.shape()
    }
    fn crossbars(&self) -> usize {
        self.0.crossbars()
    }
    fn run(
        &self,
        x: &[i64],
        batch: usize,
        mode: InputMode,
        read: Option<ReadNoise>,
    ) -> Result<(Vec<i64>, Counts), BackendError> {
        self.1.lock().unwrap().push(batch);
        self.0.run(x, batch, mode, read)
    }
}

#[test]
fn frames_per_forward_reach_the_engine() {
    let (desc, tensors) =
        load_checkpoint(Path::new("models/pretrained/global.safetensors"), None).unwrap();
    let spec = preset("isaac").unwrap();
    let run = |batch: usize| {
        let calls = Arc::new(Mutex::new(Vec::new()));
        let cfg = RunConfig {
            frames: HeldOut::new(StreamId::Source, 5),
            calib_frames: 1,
            noise: NoiseSpec::default(),
            backend: Backend::new(Arc::new(Counting(calls.clone()))),
            batch,
        };
        let r = run_detector(&desc, &tensors, &spec, &cfg).unwrap();
        let calls = calls.lock().unwrap().clone();
        (r, calls)
    };
    let (r8, c8) = run(8);
    let (r2, c2) = run(2);
    // One forward of 5 frames against forwards of 2, 2 and 1: the largest run of each layer
    // holds 5 frames' vectors against 2 frames'.
    let (m8, m2) = (*c8.iter().max().unwrap(), *c2.iter().max().unwrap());
    assert_eq!(m8 * 2, m2 * 5, "largest runs {m8} and {m2} vectors");
    assert_eq!(c2.len(), 3 * c8.len(), "three forwards against one");
    assert_eq!((r8.batch, r2.batch), (8, 2));
    assert_eq!(r8.total, r2.total);
    assert_eq!(r8.cim.map50, r2.cim.map50);
}

/// The same for any network on given inputs (`run_generic`): three inputs as one forward, or as
/// forwards of 2 and 1.
#[test]
fn inputs_per_forward_reach_the_engine() {
    use nestevo_couple::generic::{as_frames, run_generic, GenericConfig};
    let dir = Path::new("tests/data/onnx");
    let (desc, tensors) = nestevo_model::onnx::load_network(&dir.join("mlp.onnx"), None).unwrap();
    let x: ndarray::ArrayD<f32> = ndarray_npy::read_npy(dir.join("mlp_x.npy")).unwrap();
    let x = as_frames(x, desc.input, "mlp_x.npy").unwrap();
    let spec = preset("isaac").unwrap();
    let run = |batch: usize| {
        let calls = Arc::new(Mutex::new(Vec::new()));
        let cfg = GenericConfig {
            noise: NoiseSpec::default(),
            backend: Backend::new(Arc::new(Counting(calls.clone()))),
            batch,
        };
        let r = run_generic(&desc, &tensors, &spec, x.view(), x.view(), &cfg).unwrap();
        let calls = calls.lock().unwrap().clone();
        (r, calls)
    };
    let (r8, c8) = run(8);
    let (r2, c2) = run(2);
    assert_eq!(x.dim().0, 3);
    let (m8, m2) = (*c8.iter().max().unwrap(), *c2.iter().max().unwrap());
    assert_eq!(m8 * 2, m2 * 3, "largest runs {m8} and {m2} vectors");
    assert_eq!(c2.len(), 2 * c8.len(), "two forwards against one");
    assert_eq!((r8.report.batch, r2.report.batch), (8, 2));
    assert_eq!(r8.cim, r2.cim);
    assert_eq!(r8.report.total, r2.report.total);
}
