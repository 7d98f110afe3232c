//! The memory model of a training job (SPEC 4, the paper's Section 6.1):
//!
//! `M = m_params + m_activations + m_grads + m_optimizer + m_workspace`, with
//! `m_params = P * b`, `m_activations = B * A * b` (A: activation elements of one frame's
//! forward pass, the input and every layer's output, from `ModelDesc::shapes()`),
//! `m_grads = m_activations` (the paper's rule: backward holds one gradient per saved
//! activation), `m_optimizer = 2 * P * b` (Adam's two moments) and `m_workspace` a per-device
//! constant measured once. `b` is the bytes per value (4, fp32). 1 MB here is 2^20 bytes.
//!
//! Per job kind (`KindFit`, fitted by `nestevo sched fit` on the training runs): the same terms
//! with the workspace `c_k` and the activation terms scaled by `s_k` for kind k,
//! `M_k = m_params + m_optimizer + s_k (m_activations + m_grads) + c_k`: the kinds differ in
//! what LibTorch keeps for backward (losses' temporaries, in-place ReLUs, allocator rounding),
//! which the layer-output count alone does not see. `estimate_kind` uses it where fitted.

use super::job::{JobKind, Work};
use serde::{Deserialize, Serialize};

pub const MB: f64 = 1024.0 * 1024.0;

/// A job kind's workspace (MB) and activation scale, fitted on profiled runs.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct KindFit {
    pub workspace_mb: f64,
    pub act_scale: f64,
}

/// The model's constants.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct MemoryModel {
    /// Bytes per stored value (4: fp32).
    pub bytes_per_value: f64,
    /// The device's fixed workspace per job (MB): kernels' scratch, allocator slack.
    pub workspace_mb: f64,
    /// Per job kind (indexed by `JobKind::index`), where fitted.
    #[serde(default)]
    pub per_kind: Option<[KindFit; 4]>,
}

impl Default for MemoryModel {
    /// fp32 and a workspace of 8 MB (replaced by the figure a profile measures, see
    /// docs/scheduler.md).
    fn default() -> Self {
        MemoryModel {
            bytes_per_value: 4.0,
            workspace_mb: 8.0,
            per_kind: None,
        }
    }
}

/// The terms of M, in MB.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct MemoryBreakdown {
    pub params_mb: f64,
    pub activations_mb: f64,
    pub grads_mb: f64,
    pub optimizer_mb: f64,
    pub workspace_mb: f64,
    pub total_mb: f64,
}

impl MemoryModel {
    /// The kind-free model (one workspace, activations unscaled).
    pub fn estimate(&self, w: &Work) -> MemoryBreakdown {
        self.terms(w, 1.0, self.workspace_mb)
    }

    /// The model of a job of `kind`: its fitted terms where `per_kind` is set, else `estimate`.
    pub fn estimate_kind(&self, kind: JobKind, w: &Work) -> MemoryBreakdown {
        match &self.per_kind {
            Some(f) => {
                let k = f[kind.index()];
                self.terms(w, k.act_scale, k.workspace_mb)
            }
            None => self.estimate(w),
        }
    }

    fn terms(&self, w: &Work, scale: f64, workspace_mb: f64) -> MemoryBreakdown {
        let b = self.bytes_per_value;
        let params_mb = w.params * b / MB;
        let activations_mb = scale * w.batch * w.act_per_frame * b / MB;
        let grads_mb = activations_mb;
        let optimizer_mb = 2.0 * params_mb;
        let total_mb = params_mb + activations_mb + grads_mb + optimizer_mb + workspace_mb;
        MemoryBreakdown {
            params_mb,
            activations_mb,
            grads_mb,
            optimizer_mb,
            workspace_mb,
            total_mb,
        }
    }
}
