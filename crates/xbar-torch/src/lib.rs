//! The bit-faithful crossbars on LibTorch tensors (CUDA when present, else the CPU): a second
//! engine behind `cim::XbarEngine` with the CPU kernels' contract (SPEC 3.2, 3.3) and their
//! event counts. Nothing in the simulator imports this module; it imports only `cim`'s
//! interface and the kernels' types.
//!
//! # The arithmetic
//! A K x N matrix on crossbars of R rows: T = ceil(K/R) row tiles, C = ceil(N/opx) column
//! tiles (opx = floor(cols/slices) outputs per crossbar). Programming (`program`):
//! u = w + 2^(wb-1); cell s of u is (u >> s*bpc) & cell_max; the levels of all column tiles of
//! row tile t sit side by side in one tensor L_t [R, N*slices] (rows past K are zero); a
//! column is flipped (level -> cell_max - level) when 2 * its sum over the tile's used rows
//! n_t exceeds n_t * cell_max, as the kernels decide it.
//!
//! A run (`run`) feeds the inputs bit-serially: cycle b applies level
//! x_b = (x_applied >> b*dac_bits) & dac_max per row. The exact path takes every cycle of a
//! chunk at once: one batched product per row tile, [cycles * B, R] x L_t, gives every
//! column's sum S_b of every cycle; the unit column's sum is U_b = sum_r x_b(r). The ADC turns
//! each sum into a code and counts saturations (its clamp and count are skipped only where the
//! programmed column sums prove that no sum can exceed the range: the ADC is then the
//! identity). The codes are shifted and added over the cycles (sign_b 2^(b*dac_bits)), a
//! flipped column's total is F - A with F = sum_b w_b cell_max code(U_b), slices are merged
//! with 2^(s*bpc), row tiles summed, and the weight bias (and the offset of offset-binary
//! signed inputs) removed on the host in i64, exactly as the kernels do it (calibrated ADC:
//! the merged total times the LSB, rounded once). The analogue path takes every cycle of a
//! chunk at once too (below).
//!
//! Where the kernels take their exact product (`nestevo_kernels::exact_product_holds`, the one
//! rule both engines apply), a noiseless run here is the same: one f64 product x w on the
//! device, the counts from the shapes and no saturation (`TorchEngine::exact_product` turns it
//! off, for tests). ISAAC always qualifies.
//!
//! # Why it is exact (dtypes)
//! - S_b and U_b: f32 batched products of integer operands (levels <= 15, input levels <= 15,
//!   both exact in f32). Every partial sum is an integer at most R * cell_max * dac_max
//!   (384 for ISAAC, 57 600 for 256 rows x 4-bit cells x 4-bit DACs) < 2^24, and f32 adds
//!   integers below 2^24 exactly in any order, so the product is exact however the BLAS
//!   (or cuBLAS) blocks and orders it. TF32 would be exact too (operands < 2^11, fp32
//!   accumulation), so no setting can introduce an approximation.
//! - ADC: exact range: code = min(S, max) on exact f32 integers; calibrated range: a code
//!   table computed on the host in f64 with the kernels' formula floor(S * max/FS + 0.5)
//!   (clamped), indexed by S, so codes equal the kernels' bit for bit. A conversion saturates
//!   when S > max (exact) or S > FS, i.e. S > floor(FS) for integer S (calibrated).
//! - Shift-and-add over the cycles: f32 products of the codes with the cycle weights, in
//!   groups of cycles whose relative weights times the largest code sum below 2^24 (one group
//!   for ISAAC: 255 * (2^16 - 1) < 2^24), so every partial sum is an exact integer; several
//!   groups are then scaled and added in i64.
//! - Flip, slice merge and tile sums (`merge`): y = sum_{t,s} 2^(s*bpc) (flipped ? -A : A) +
//!   sum_t F(t, tile(n)) G(t, n), G the sum of 2^(s*bpc) over the output's flipped slices.
//!   Where one group held every cycle, A is an f32 integer below 2^24, so A * +-2^(s*bpc) is
//!   exact in f32; the sums over tiles and slices run in f64 and the unit term is one f64
//!   product, every partial sum an integer below T * sum_s 2^(s*bpc) * (1 + cell_max) * 2^24,
//!   which the programming checks is below 2^53 (2^45 for ISAAC's 1024-row layers): exact in
//!   any order. Otherwise (several groups, or that bound) the same sums in i64 (below 2^50).
//!
//! # Noise (the analogue path)
//! - Weight-level noise is applied by `cim` before programming: the same for every engine.
//! - Cell-level programming noise: the conductances are drawn by the kernels' own code
//!   (ChaCha8, crossbar i on stream i) and uploaded, so they equal the CPU backend's bit for
//!   bit. They are uploaded as the ADC's inputs per unit of input, (g - g_min) * inv_step *
//!   inv_lsb, with a row of 0.5 under the cells that an input of 1 reads, so that one f32
//!   batched product over all cycles gives v = (I - g_min sum_r x_r) * inv_step * inv_lsb + 0.5
//!   for every conversion, and the kernels' `FloatAdc` is floor(v) clamped to 0..=max. The
//!   kernels subtract the offset from the f32 current and scale after; both that and the
//!   summation order change only f32 rounding, so a code can differ where a column's value
//!   lies within it (about 1e-5 cell steps) of a code boundary: outputs agree with the CPU
//!   backend's except at such rare conversions (with nominal conductances and the exact ADC
//!   range every value lies that close to an integer, far from a boundary: they are equal). The
//!   clamp and the saturation count are skipped where each column's sums of its positive and
//!   negative cells prove that no input can leave the range (flipped ISAAC tiles with
//!   programming noise), never with read noise. The shift-and-add is the exact path's
//!   (`cycle_sum`). The tensor of ADC inputs, [T, cycles * B, N*slices + C], is thus written
//!   once, floored in place and read once: the path is bound by that traffic on a GPU.
//!   `AnalogVariant::Epilogue` drops the floor pass where the bounds allow: a bias in
//!   the f32 product's epilogue rounds every conversion to an integer whose low 16 bits the
//!   shift-and-add reads as f16 (`TorchMatrix`'s `coded_products`, `cycle_sum_f16`);
//!   `AnalogVariant::F16` takes the products from f16 parts and stores each code,
//!   rounded by a bias in the epilogue, as an f16 (the same functions).
//! - Per-read noise: drawn on the device from LibTorch's generator, seeded per run chunk from
//!   the read seed (under a lock: reproducible run to run on one device and budget; it reseeds
//!   LibTorch's global generator, tch having no private ones), with the kernels'
//!   law (a column total N(0, (mu*cell_max)^2 * sum_r x_b(r)^2) cell steps per read). Equal to
//!   the CPU backend's only in distribution; `tests/xbar_torch.rs` tests the same law.
//!
//! # Memory
//! A batch is cut into chunks of B_c vectors so that one chunk's working set, estimated from
//! the shapes (`TorchMatrix::chunk`: on the exact path, which takes all cycles at once, about
//! T * (cycles * (N*slices * 16 + R * 12) + N*slices * 32) bytes per vector; on the analogue
//! path T * (cycles * ((N*slices + C) * 8 + R' * 24) + (N*slices + C) * 48), R' the cell rows
//! and the 0.5 row rounded up to a multiple of 8), stays within the engine's budget
//! (`TorchEngine::memory`, default 2 GiB on CUDA, 512 MiB on the CPU). The programmed levels
//! stay resident
//! (T * R * N * slices * 4 bytes; 34 MB for a 1024 x 1024 ISAAC layer).

mod matrix;
mod net;

pub use matrix::{round_half_away, TorchMatrix};
pub use nestevo_cim::AnalogVariant;

use nestevo_cim::{Backend, BackendError, CellNoise, NetworkEngine, XbarEngine, XbarMatrix};
use nestevo_kernels::XbarConfig;
use std::sync::Arc;
use tch::Device;

/// The LibTorch engine: where its tensors live and how much memory one chunk may use.
#[derive(Debug, Clone, Copy)]
pub struct TorchEngine {
    pub device: Device,
    /// Working-set budget of one chunk of a run, bytes.
    pub memory: usize,
    /// Noiseless runs take the exact product where the programmed crossbars provably cannot
    /// saturate (the kernels' rule); `false` keeps the bit-serial tensors (for tests).
    pub exact_product: bool,
    /// How the analogue path (cell noise) computes its products and ADC (`AnalogVariant`):
    /// `Bf16`, products from three bf16 parts (tensor cores on CUDA: `bmm` with an f32
    /// output); `Epilogue`, a bias added to the f32 accumulator in the products' epilogue
    /// rounds each conversion and the shift-and-add reads the codes from the results' low
    /// halves as f16, where the programmed conductances prove that no conversion needs the
    /// clamp or the count and codes stay below 1024 (half the ADC's memory traffic on a GPU);
    /// `F16`, products from three f16 parts whose codes a bias of 1536 rounds in the epilogue
    /// and the product stores as f16, where the bounds allow it and codes stay below 512 (a
    /// quarter of it), else those products with the ADC as passes. On the CPU (for tests;
    /// slower there) the parts' products are f32 products and the bias is added after them.
    /// `F32` by default.
    pub analog: AnalogVariant,
}

impl TorchEngine {
    /// CUDA device 0 when LibTorch sees a GPU, else the CPU.
    pub fn auto() -> Self {
        Self::on(Device::cuda_if_available())
    }

    pub fn on(device: Device) -> Self {
        let memory = if device.is_cuda() { 2 << 30 } else { 512 << 20 };
        TorchEngine {
            device,
            memory,
            exact_product: true,
            analog: AnalogVariant::F32,
        }
    }

    pub fn with_exact_product(mut self, on: bool) -> Self {
        self.exact_product = on;
        self
    }

    pub fn with_analog(mut self, variant: AnalogVariant) -> Self {
        self.analog = variant;
        self
    }

    pub fn with_memory(mut self, bytes: usize) -> Self {
        self.memory = bytes.max(1);
        self
    }

    /// As a `cim` backend.
    pub fn backend(self) -> Backend {
        Backend::new(Arc::new(self))
    }
}

impl XbarEngine for TorchEngine {
    /// As `--backend` names it: the variants after a colon.
    fn name(&self) -> &'static str {
        match self.analog {
            AnalogVariant::F32 => "torch",
            AnalogVariant::Bf16 => "torch:bf16",
            AnalogVariant::Epilogue => "torch:epilogue",
            AnalogVariant::F16 => "torch:f16",
        }
    }

    fn program(
        &self,
        cfg: &XbarConfig,
        w: &[i64],
        k: usize,
        n: usize,
        cells: Option<CellNoise>,
    ) -> Result<Box<dyn XbarMatrix>, BackendError> {
        Ok(Box::new(TorchMatrix::program(self, cfg, w, k, n, cells)?))
    }

    /// The whole network on the device (`net`).
    fn network(&self) -> Option<&dyn NetworkEngine> {
        Some(self)
    }
}

/// A LibTorch failure as the engine's error.
pub(crate) fn engine_err(e: tch::TchError) -> BackendError {
    BackendError::Engine {
        backend: "torch",
        msg: e.to_string(),
    }
}

/// LibTorch's CPU tensors come from glibc's malloc, which maps every block over 32 MB afresh
/// and unmaps it when it is freed, so each chunk of this engine's crossbars pays for zeroed
/// pages again (a third of a detector run's time on CPU tensors). With this, called once at
/// the start of a process (the `nestevo` binary, the bench), a freed block stays in the heap,
/// never trimmed, and the next chunk reuses it; the process keeps its peak. It changes glibc's
/// policy for the whole process and for blocks allocated later only; elsewhere it does nothing.
pub fn keep_freed_heap() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: `mallopt` only changes glibc's allocation policy, for blocks allocated later;
    // it is thread-safe and may be called at any time.
    unsafe {
        libc::mallopt(libc::M_MMAP_MAX, 0);
        libc::mallopt(libc::M_TRIM_THRESHOLD, i32::MAX);
    }
}
