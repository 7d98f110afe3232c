//! The float reference of the layers that go onto crossbars, in plain f32 (im2col + `dot`):
//! what the crossbar result is compared with. Batch-norm here is the eval-mode layer itself,
//! not folded, so the reference is the trained network as the trainer runs it.

use crate::conv::{im2col, Conv2dShape};
use crate::error::Result;
use ndarray::{s, Array1, Array2, Array4, ArrayView4, Axis};
use nestevo_core::invalid;
use rayon::prelude::*;

/// PyTorch's `BatchNorm2d` default epsilon, which the trainer uses.
pub const BN_EPS: f32 = 1e-5;

/// Eval-mode batch-norm parameters of one layer.
#[derive(Debug, Clone)]
pub struct BatchNorm {
    pub gamma: Array1<f32>,
    pub beta: Array1<f32>,
    pub mean: Array1<f32>,
    pub var: Array1<f32>,
}

impl BatchNorm {
    /// y = (x - mean) / sqrt(var + eps) * gamma + beta, per channel.
    pub fn apply(&self, x: ArrayView4<f32>) -> Array4<f32> {
        let mut y = x.to_owned();
        for (c, mut ch) in y.axis_iter_mut(Axis(1)).enumerate() {
            let inv = 1.0 / (self.var[c] + BN_EPS).sqrt();
            let (m, g, b) = (self.mean[c], self.gamma[c], self.beta[c]);
            ch.mapv_inplace(|v| (v - m) * inv * g + b);
        }
        y
    }
}

/// x [B, Cin, H, W], weight [Cout, Cin/groups, kh, kw] -> [B, Cout, Ho, Wo].
///
/// Each group's output is computed as W [Cout/g, K] . patches^T [K, B*Ho*Wo], whose rows are
/// the output planes, so the result is copied out plane by plane; a 1x1 kernel at stride 1
/// without padding needs no patches at all (frame n's [Cin/g, H*W] block is its own). Each
/// output is the same sum over K in the same order as patches . W^T, so the values are those
/// of that product.
pub fn conv2d(
    x: ArrayView4<f32>,
    w: &Array4<f32>,
    b: Option<&Array1<f32>>,
    sh: &Conv2dShape,
) -> Result<Array4<f32>> {
    let (bs, cin, h, wd) = x.dim();
    let (cout, cin_g, kh, kw) = w.dim();
    let g = sh.groups;
    if cin != cin_g * g {
        invalid!("convolution input has {cin} channels, the weight takes {cin_g} x {g} groups");
    }
    let (ho, wo) = sh.output(h, wd, kh, kw)?;
    let (cout_g, hw) = (cout / g, ho * wo);
    let k = cin_g * kh * kw;
    let xs = x.as_standard_layout();
    let w = w.as_standard_layout();
    let mut y = Array4::<f32>::zeros((bs, cout, ho, wo));
    let ys = y.as_slice_mut().expect("fresh array");
    for gi in 0..g {
        // A slice along the outermost axis of a standard-layout array is contiguous.
        let wg = w
            .slice(s![gi * cout_g..(gi + 1) * cout_g, .., .., ..])
            .into_shape_with_order((cout_g, k))?;
        let bias = |o: usize| b.map_or(0.0, |b| b[gi * cout_g + o]);
        // Writes frame n's planes of this group from `planes` [cout_g, hw].
        let put = |frame: &mut [f32], planes: ndarray::ArrayView2<f32>| {
            let group = &mut frame[gi * cout_g * hw..(gi + 1) * cout_g * hw];
            group
                .par_chunks_mut(hw.max(1))
                .enumerate()
                .for_each(|(o, dst)| {
                    let bo = bias(o);
                    for (d, &v) in dst.iter_mut().zip(planes.row(o)) {
                        *d = v + bo;
                    }
                });
        };
        if sh.pointwise(kh, kw) {
            for (n, frame) in ys.chunks_mut(cout * hw).enumerate() {
                let xn = xs
                    .slice(s![n, gi * cin_g..(gi + 1) * cin_g, .., ..])
                    .into_shape_with_order((cin_g, hw))?;
                put(frame, wg.dot(&xn).view());
            }
        } else {
            let cols = im2col(x, gi, cin_g, (kh, kw), sh, (ho, wo));
            let out = wg.dot(&cols.t());
            for (n, frame) in ys.chunks_mut(cout * hw).enumerate() {
                put(frame, out.slice(s![.., n * hw..(n + 1) * hw]));
            }
        }
    }
    Ok(y)
}

/// x flattened to [B, C*H*W] (row-major, as `flatten(1, -1)`), weight [out, in] -> [B, out, 1, 1].
pub fn linear(x: ArrayView4<f32>, w: &Array2<f32>, b: Option<&Array1<f32>>) -> Result<Array4<f32>> {
    let flat = flatten2(x);
    if flat.dim().1 != w.dim().1 {
        invalid!(
            "linear input has {} features, the weight takes {}",
            flat.dim().1,
            w.dim().1
        );
    }
    let mut y = flat.dot(&w.t());
    if let Some(b) = b {
        y += b;
    }
    Ok(to4(y))
}

/// [B, C, H, W] -> [B, C*H*W].
pub fn flatten2(x: ArrayView4<f32>) -> Array2<f32> {
    let (b, c, h, w) = x.dim();
    x.as_standard_layout()
        .into_owned()
        .into_shape_with_order((b, c * h * w))
        .expect("contiguous")
}

/// [B, N] -> [B, N, 1, 1].
pub fn to4(y: Array2<f32>) -> Array4<f32> {
    let (b, n) = y.dim();
    y.into_shape_with_order((b, n, 1, 1)).expect("contiguous")
}

/// Mean over each channel's H x W -> [B, C, 1, 1].
pub fn global_avg_pool(x: ArrayView4<f32>) -> Array4<f32> {
    let (b, c, h, w) = x.dim();
    let hw = (h * w) as f32;
    Array4::from_shape_fn((b, c, 1, 1), |(n, ch, _, _)| {
        x.slice(s![n, ch, .., ..]).sum() / hw
    })
}
