//! `Resize` and `Upsample` become an `upsample` layer (nearest neighbour, one integer factor
//! k >= 1 for H and W). The factor comes from constant `scales` [1, 1, k, k] (an input, or
//! Upsample's opset-7 attribute) or constant `sizes` [batch, C, k * H, k * W]. Honoured:
//! `mode` nearest; for Resize, `coordinate_transformation_mode` half_pixel or
//! pytorch_half_pixel, or asymmetric with `nearest_mode` floor (these pick the runner's source
//! pixel). Refused: other modes, fractional or unequal factors, computed scales or sizes.

use super::OnnxOp;
use crate::onnx::context::{Ctx, Node};
use crate::onnx::OnnxError;
use crate::Op;

pub struct Resize;

impl OnnxOp for Resize {
    fn op_types(&self) -> &'static [&'static str] {
        &["Resize", "Upsample"]
    }

    fn listed(&self) -> String {
        "Resize and Upsample (nearest, integer scale)".into()
    }

    fn convert(&self, cx: &mut Ctx, node: &Node) -> Result<(), OnnxError> {
        let n = node.proto;
        let mode = node.string("mode", "nearest")?;
        if mode != "nearest" {
            return Err(node.err(format!(
                "mode `{mode}`: only nearest-neighbour resizing is supported"
            )));
        }
        if n.op_type == "Resize" {
            let ctm = node.string("coordinate_transformation_mode", "half_pixel")?;
            let nm = node.string("nearest_mode", "round_prefer_floor")?;
            // With an integer scale these pick source pixel floor(x / s), as the runner does.
            let exact = matches!(ctm.as_str(), "half_pixel" | "pytorch_half_pixel")
                || (ctm == "asymmetric" && nm == "floor");
            if !exact {
                return Err(node.err(format!(
                    "coordinate_transformation_mode `{ctm}` with nearest_mode `{nm}`: supported \
                     are half_pixel, pytorch_half_pixel, and asymmetric with floor"
                )));
            }
        }
        let x = cx.data(node, 0)?;
        let [c, h, w] = cx.shape_of(&x);
        // Opset 10 Resize and opset 9 Upsample: (X, scales); opset 11+: (X, roi, scales, sizes).
        let scales_at = if n.op_type == "Upsample" || n.input.len() == 2 {
            1
        } else {
            2
        };
        let mut scales: Option<Vec<f32>> = None;
        if node.has_input(scales_at) {
            let s = cx.konst(node, scales_at, "scales")?;
            if !s.f.is_empty() {
                scales = Some(s.f.clone());
            }
        }
        if scales.is_none() && n.op_type == "Upsample" {
            scales = node.floats("scales")?;
        }
        if scales.is_none() && node.has_input(3) {
            let s = cx.konst(node, 3, "sizes")?;
            let v = s.ints.clone().unwrap_or_default();
            if v.len() != 4 || v[1] != c as i64 {
                return Err(node.err(format!("sizes {v:?}: expected [batch, {c}, H, W]")));
            }
            scales = Some(vec![
                1.0,
                1.0,
                v[2] as f32 / h as f32,
                v[3] as f32 / w as f32,
            ]);
        }
        let Some(s) = scales else {
            return Err(node.err("neither scales nor sizes are given as constants".into()));
        };
        let int = |v: f32| (v >= 1.0 && (v - v.round()).abs() < 1e-6).then_some(v.round() as usize);
        match (s.as_slice(), s.get(2).copied().and_then(int)) {
            ([1.0, 1.0, a, b], Some(k)) if a == b => {
                cx.push(node, Op::Upsample { scale: k }, vec![x])?;
                Ok(())
            }
            _ => Err(node.err(format!(
                "scales {s:?}: only [1, 1, k, k] with an integer k >= 1 is supported"
            ))),
        }
    }
}
