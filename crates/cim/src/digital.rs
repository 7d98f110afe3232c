//! The digital layers between crossbar layers, on NCHW float tensors (the tile's ReLU/sigmoid,
//! max-pool and adders run in digital logic; they need no crossbar).

use super::error::Result;
use ndarray::{concatenate, s, Array4, ArrayView4, Axis};
use nestevo_core::invalid;

pub fn relu(x: &mut Array4<f32>) {
    x.mapv_inplace(|v| v.max(0.0));
}

fn pooled(n: usize, k: usize, stride: usize, pad: usize) -> Result<usize> {
    if k == 0 || stride == 0 || n + 2 * pad < k {
        invalid!("pooling window {k} (stride {stride}, padding {pad}) does not fit a side of {n}");
    }
    Ok((n + 2 * pad - k) / stride + 1)
}

/// Max over k x k windows; padding never wins (it is -infinity).
pub fn max_pool2d(x: ArrayView4<f32>, k: usize, stride: usize, pad: usize) -> Result<Array4<f32>> {
    pool(x, k, stride, pad, true)
}

/// Mean over k x k windows; padded positions count as zeros (PyTorch's default).
pub fn avg_pool2d(x: ArrayView4<f32>, k: usize, stride: usize, pad: usize) -> Result<Array4<f32>> {
    pool(x, k, stride, pad, false)
}

fn pool(x: ArrayView4<f32>, k: usize, stride: usize, pad: usize, max: bool) -> Result<Array4<f32>> {
    let (b, c, h, w) = x.dim();
    let (ho, wo) = (pooled(h, k, stride, pad)?, pooled(w, k, stride, pad)?);
    let mut y = Array4::<f32>::zeros((b, c, ho, wo));
    for ((n, ch, oy, ox), out) in y.indexed_iter_mut() {
        let mut acc = if max { f32::NEG_INFINITY } else { 0.0 };
        for i in 0..k {
            for j in 0..k {
                let (yy, xx) = (
                    (oy * stride + i) as isize - pad as isize,
                    (ox * stride + j) as isize - pad as isize,
                );
                if yy >= 0 && xx >= 0 && (yy as usize) < h && (xx as usize) < w {
                    let v = x[[n, ch, yy as usize, xx as usize]];
                    acc = if max { acc.max(v) } else { acc + v };
                }
            }
        }
        *out = if max { acc } else { acc / (k * k) as f32 };
    }
    Ok(y)
}

/// Element-wise sum of two tensors of the same shape (residual connections).
pub fn add(a: ArrayView4<f32>, b: ArrayView4<f32>) -> Result<Array4<f32>> {
    if a.dim() != b.dim() {
        invalid!(
            "residual add of shapes {:?} and {:?}: they must be equal",
            a.dim(),
            b.dim()
        );
    }
    Ok(&a + &b)
}

/// Nearest-neighbour upsampling by an integer factor.
pub fn upsample_nearest(x: ArrayView4<f32>, factor: usize) -> Result<Array4<f32>> {
    if factor == 0 {
        invalid!("upsampling factor must be >= 1");
    }
    let (b, c, h, w) = x.dim();
    Ok(Array4::from_shape_fn(
        (b, c, h * factor, w * factor),
        |(n, ch, y, xx)| x[[n, ch, y / factor, xx / factor]],
    ))
}

/// Concatenation along channels; batch and spatial sizes must agree.
pub fn concat_channels(xs: &[ArrayView4<f32>]) -> Result<Array4<f32>> {
    let Some(first) = xs.first() else {
        invalid!("concatenation of no tensors");
    };
    let (b, _, h, w) = first.dim();
    for x in xs {
        let (b2, _, h2, w2) = x.dim();
        if (b2, h2, w2) != (b, h, w) {
            invalid!(
                "concatenation of {:?} with {:?}: batch, height and width must agree",
                first.dim(),
                x.dim()
            );
        }
    }
    Ok(concatenate(Axis(1), xs)?)
}

/// Channel slice [from, to) (the other half of a concat, e.g. for skip connections).
pub fn channels(x: ArrayView4<f32>, from: usize, to: usize) -> Array4<f32> {
    x.slice(s![.., from..to, .., ..]).to_owned()
}
