//! The digital layers between crossbar layers, on NCHW float tensors (the tile's ReLU/sigmoid,
//! max-pool and adders run in digital logic; they need no crossbar).

use super::error::Result;
use ndarray::{concatenate, s, Array1, Array4, ArrayView4, Axis, Slice};
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

/// Fixed padding [top, left, bottom, right] of H and W with zeros or -infinity.
pub fn pad(x: ArrayView4<f32>, p: [usize; 4], neg_inf: bool) -> Array4<f32> {
    let (b, c, h, w) = x.dim();
    let fill = if neg_inf { f32::NEG_INFINITY } else { 0.0 };
    let mut y = Array4::from_elem((b, c, h + p[0] + p[2], w + p[1] + p[3]), fill);
    y.slice_mut(s![.., .., p[0]..p[0] + h, p[1]..p[1] + w])
        .assign(&x);
    y
}

/// Element-wise a * b or a / b, broadcasting every 1-sized axis of either.
pub fn broadcast(
    a: ArrayView4<f32>,
    b: ArrayView4<f32>,
    f: impl Fn(f32, f32) -> f32,
) -> Result<Array4<f32>> {
    let (da, db) = (a.shape(), b.shape());
    let mut out = [0usize; 4];
    for i in 0..4 {
        out[i] = match (da[i], db[i]) {
            (x, y) if x == y => x,
            (1, y) => y,
            (x, 1) => x,
            _ => invalid!(
                "element-wise product of shapes {da:?} and {db:?}: axes must be equal or 1"
            ),
        };
    }
    let (a, b) = (
        a.broadcast(out).expect("checked"),
        b.broadcast(out).expect("checked"),
    );
    let mut y = Array4::zeros(out);
    ndarray::Zip::from(&mut y)
        .and(&a)
        .and(&b)
        .for_each(|y, &a, &b| *y = f(a, b));
    Ok(y)
}

/// Mean over the axes set in `axes` (C, H, W), each kept with size 1.
pub fn reduce_mean(x: ArrayView4<f32>, axes: [bool; 3]) -> Array4<f32> {
    let mut y = x.to_owned();
    for (a, &on) in axes.iter().enumerate() {
        if on {
            let n = y.len_of(Axis(a + 1)) as f32;
            y = y.sum_axis(Axis(a + 1)).insert_axis(Axis(a + 1)) / n;
        }
    }
    y
}

/// Softmax along axis `axis` (0 = C, 1 = H, 2 = W), the maximum subtracted first.
pub fn softmax(x: ArrayView4<f32>, axis: usize) -> Array4<f32> {
    let mut y = x.to_owned();
    for mut lane in y.lanes_mut(Axis(axis + 1)) {
        let m = lane.fold(f32::NEG_INFINITY, |m, &v| m.max(v));
        lane.mapv_inplace(|v| (v - m).exp());
        let s = lane.sum();
        lane.mapv_inplace(|v| v / s);
    }
    y
}

/// Normalisation over W: (x - mean) / sqrt(var + eps) * gamma + beta, the biased variance.
pub fn layer_norm(
    x: ArrayView4<f32>,
    gamma: &Array1<f32>,
    beta: &Array1<f32>,
    eps: f32,
) -> Array4<f32> {
    let mut y = x.to_owned();
    for mut lane in y.lanes_mut(Axis(3)) {
        let n = lane.len() as f32;
        let mean = lane.sum() / n;
        let var = lane.fold(0.0, |a, &v| a + (v - mean) * (v - mean)) / n;
        let inv = 1.0 / (var + eps).sqrt();
        for (i, v) in lane.iter_mut().enumerate() {
            *v = (*v - mean) * inv * gamma[i] + beta[i];
        }
    }
    y
}

/// `[B, C, H, W]` with C, H, W permuted (output axis i is input axis `perm[i]`).
pub fn transpose(x: ArrayView4<f32>, perm: [usize; 3]) -> Array4<f32> {
    let p = [0, perm[0] + 1, perm[1] + 1, perm[2] + 1];
    x.permuted_axes(p).as_standard_layout().into_owned()
}

/// The same values, row-major per frame, as [B, shape].
pub fn reshape(x: ArrayView4<f32>, shape: [usize; 3]) -> Result<Array4<f32>> {
    let b = x.dim().0;
    Ok(x.as_standard_layout()
        .into_owned()
        .into_shape_with_order((b, shape[0], shape[1], shape[2]))?)
}

/// Indices start, start + step, ... below end of axis `axis` (0 = C, 1 = H, 2 = W).
pub fn slice(
    x: ArrayView4<f32>,
    axis: usize,
    start: usize,
    end: usize,
    step: usize,
) -> Array4<f32> {
    x.slice_axis(
        Axis(axis + 1),
        Slice::new(start as isize, Some(end as isize), step as isize),
    )
    .to_owned()
}

/// Concatenation along axis `axis` (0 = C, 1 = H, 2 = W).
pub fn concat_axis(xs: &[ArrayView4<f32>], axis: usize) -> Result<Array4<f32>> {
    Ok(concatenate(Axis(axis + 1), xs)?)
}

/// Per frame and leading index, [H, K] x [K, N] with b's leading axis equal to a's or 1.
pub fn matmul(a: ArrayView4<f32>, b: ArrayView4<f32>) -> Result<Array4<f32>> {
    let (bs, c, m, k) = a.dim();
    let (bs2, c2, k2, n) = b.dim();
    if bs2 != bs || k2 != k || !(c2 == c || c2 == 1) {
        invalid!(
            "matmul of {:?} by {:?}: needs [B, C, M, K] x [B, C or 1, K, N]",
            a.dim(),
            b.dim()
        );
    }
    let mut y = Array4::zeros((bs, c, m, n));
    for f in 0..bs {
        for ch in 0..c {
            let r = a.slice(s![f, ch, .., ..]).dot(&b.slice(s![
                f,
                if c2 == 1 { 0 } else { ch },
                ..,
                ..
            ]));
            y.slice_mut(s![f, ch, .., ..]).assign(&r);
        }
    }
    Ok(y)
}
