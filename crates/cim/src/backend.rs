//! Which engine computes a programmed matrix's products. The contract (SPEC 3.2, 3.3) is the
//! CPU kernels' (`nestevo-kernels`): program a K x N integer matrix onto crossbars (optionally
//! as noisy conductances), then run batches of integer inputs to y_int and the event counts.
//! Another engine (the LibTorch one in `nestevo_xbar_torch`, feature `torch`) implements the
//! same two calls; `cim` itself only sees this interface, never the engine behind it.

use super::network::{LayerRun, NetPlan};
use super::CimError;
use ndarray::{Array4, ArrayView4};
use nestevo_core::error::{ErrorKind, Kinded};
use nestevo_device::programming::Programming;
use nestevo_device::CellLaw;
use nestevo_kernels::{Counts, InputMode, KernelError, Programmed, ReadNoise, XbarConfig};
use std::any::Any;
use std::fmt;
use std::sync::Arc;

/// A refusal or failure of an engine.
#[derive(Debug, thiserror::Error)]
pub enum BackendError {
    /// Bad shape, value out of range or inconsistent knobs (the kernels' own checks).
    #[error(transparent)]
    Kernel(#[from] KernelError),
    /// The engine itself failed (e.g. a LibTorch error).
    #[error("backend {backend}: {msg}")]
    Engine { backend: &'static str, msg: String },
    /// The engine asked for is not in this build.
    #[error("backend {backend}: {msg}")]
    Unavailable { backend: &'static str, msg: String },
}

impl Kinded for BackendError {
    fn kind(&self) -> ErrorKind {
        match self {
            BackendError::Engine { .. } => ErrorKind::Fault,
            _ => ErrorKind::BadInput,
        }
    }
}

impl From<BackendError> for CimError {
    fn from(e: BackendError) -> Self {
        match e {
            BackendError::Kernel(k) => CimError::Kernel(k),
            BackendError::Unavailable { .. } => CimError::Invalid(e.to_string()),
            BackendError::Engine { .. } => CimError::Internal(e.to_string()),
        }
    }
}

/// What the analogue path's cells hold: the device laws applied in order at programming
/// (`nestevo_device`; none: nominal conductances), drawn from `seed`.
#[derive(Debug, Clone, Default)]
pub struct CellNoise {
    pub laws: Vec<Arc<dyn CellLaw>>,
    pub seed: u64,
}

impl CellNoise {
    /// Eq. 18-20 programming noise of coefficient `mu` alone (mu = 0: nominal conductances).
    pub fn programming(mu: f64, seed: u64) -> Self {
        let laws: Vec<Arc<dyn CellLaw>> = if mu > 0.0 {
            vec![Arc::new(Programming { mu })]
        } else {
            Vec::new()
        };
        CellNoise { laws, seed }
    }
}

/// A matrix programmed on some engine.
pub trait XbarMatrix: Send + Sync {
    /// (K, N).
    fn shape(&self) -> (usize, usize);
    fn crossbars(&self) -> usize;
    /// `batch` input vectors (row-major batch x K) -> y_int (batch x N, after bias removal,
    /// before scaling) and the counts of the run.
    fn run(
        &self,
        x: &[i64],
        batch: usize,
        mode: InputMode,
        read: Option<ReadNoise>,
    ) -> Result<(Vec<i64>, Counts), BackendError>;
    /// The CPU kernels' crossbars, where this matrix is one (levels, conductances).
    fn kernel(&self) -> Option<&Programmed> {
        None
    }
    /// The concrete matrix, for an engine's whole-network path to find its own matrices.
    fn as_any(&self) -> Option<&dyn Any> {
        None
    }
}

/// What a whole-network engine made of a forward.
pub enum NetRun {
    /// The network's outputs (`desc.outputs` order) and each crossbar layer's counts, as the
    /// layer-by-layer path gives them.
    Done {
        outputs: Vec<Array4<f32>>,
        runs: Vec<LayerRun>,
    },
    /// Some layer is beyond the engine (why, naming it): the caller runs layer by layer.
    Uncovered(String),
}

/// An engine that runs a calibrated network as a whole (e.g. with the activations resident on
/// a device between layers), with the layer-by-layer path's arithmetic and counts.
pub trait NetworkEngine: Send + Sync {
    fn forward(&self, plan: &NetPlan<'_>, x: ArrayView4<f32>) -> Result<NetRun, CimError>;
}

/// An engine that programs matrices.
pub trait XbarEngine: Send + Sync {
    /// Short name, as `--backend` spells it.
    fn name(&self) -> &'static str;
    /// Programs `w` (row-major K x N signed `weight_bits` integers); `cells` selects the
    /// analogue path with conductances (needed for cell noise and for read noise).
    fn program(
        &self,
        cfg: &XbarConfig,
        w: &[i64],
        k: usize,
        n: usize,
        cells: Option<CellNoise>,
    ) -> Result<Box<dyn XbarMatrix>, BackendError>;
    /// Its whole-network path, where it has one.
    fn network(&self) -> Option<&dyn NetworkEngine> {
        None
    }
}

/// The CPU kernels as an engine.
pub struct KernelEngine;

impl XbarMatrix for Programmed {
    fn shape(&self) -> (usize, usize) {
        Programmed::shape(self)
    }
    fn crossbars(&self) -> usize {
        Programmed::crossbars(self)
    }
    fn run(
        &self,
        x: &[i64],
        batch: usize,
        mode: InputMode,
        read: Option<ReadNoise>,
    ) -> Result<(Vec<i64>, Counts), BackendError> {
        Ok(Programmed::run(self, x, batch, mode, read)?)
    }
    fn kernel(&self) -> Option<&Programmed> {
        Some(self)
    }
}

impl XbarEngine for KernelEngine {
    fn name(&self) -> &'static str {
        "cpu"
    }
    fn program(
        &self,
        cfg: &XbarConfig,
        w: &[i64],
        k: usize,
        n: usize,
        cells: Option<CellNoise>,
    ) -> Result<Box<dyn XbarMatrix>, BackendError> {
        let mut p = Programmed::new(cfg, w, k, n)?;
        if let Some(c) = cells {
            p = p.program_cells(&c.laws, c.seed)?;
        }
        Ok(Box::new(p))
    }
}

/// How an engine computes the analogue path (cell noise) where it offers a choice (the LibTorch
/// engine, for GPUs): every variant computes the same law and counts; they differ in the dtypes
/// of the products and of the ADC's codes, so in which conversions lying within float rounding
/// of a code boundary take the other code. One at a time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Hash)]
pub enum AnalogVariant {
    /// f32 products, then the ADC as passes over them.
    #[default]
    F32,
    /// Products from three bf16 parts of every programmed value (exactly its f32 value) with
    /// f32 accumulation: tensor cores on CUDA.
    Bf16,
    /// f32 products whose epilogue rounds each conversion (a bias), where the programmed bounds
    /// need neither the ADC's clamp nor its count and codes stay below 1024 (ADCs of at most
    /// 10 bits); else as `F32`.
    Epilogue,
    /// Products from three f16 parts, each code rounded in the epilogue and stored as an f16,
    /// where the bounds need neither clamp nor count and codes stay below 512 (ADCs of at most
    /// 9 bits); else the f16 parts' products with the ADC as passes over them.
    F16,
}

impl AnalogVariant {
    pub const ALL: [AnalogVariant; 4] = [
        AnalogVariant::F32,
        AnalogVariant::Bf16,
        AnalogVariant::Epilogue,
        AnalogVariant::F16,
    ];

    /// Its name as an engine option (`--backend torch:NAME`); none for the default.
    pub fn option(self) -> Option<&'static str> {
        match self {
            AnalogVariant::F32 => None,
            AnalogVariant::Bf16 => Some("bf16"),
            AnalogVariant::Epilogue => Some("epilogue"),
            AnalogVariant::F16 => Some("f16"),
        }
    }

    /// The variant an option names.
    pub fn from_option(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|v| v.option() == Some(name))
    }
}

/// The engine a layer is programmed on; the default is the CPU kernels. Cheap to clone.
#[derive(Clone)]
pub struct Backend(Arc<dyn XbarEngine>);

impl Default for Backend {
    fn default() -> Self {
        Backend(Arc::new(KernelEngine))
    }
}

impl fmt::Debug for Backend {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Backend({})", self.0.name())
    }
}

impl Backend {
    /// The CPU kernels.
    pub fn cpu() -> Self {
        Backend::default()
    }
    pub fn new(engine: Arc<dyn XbarEngine>) -> Self {
        Backend(engine)
    }
    pub fn name(&self) -> &'static str {
        self.0.name()
    }
    pub fn engine(&self) -> &dyn XbarEngine {
        &*self.0
    }
    pub fn network(&self) -> Option<&dyn NetworkEngine> {
        self.0.network()
    }
}
