//! Convolution on crossbars: im2col turns each output position into one input vector of
//! K = Cin/groups * kh * kw values (order: channel, kernel row, kernel column); each group is
//! its own K x Cout/groups matrix. Batch-norm is folded into the weights and bias first.

use super::backend::Backend;
use super::error::Result;
use super::layer::QuantMatrix;
use super::noise::NoiseSpec;
use super::quant::ActQuant;
use super::stats::LayerStats;
use ndarray::{s, Array1, Array2, Array4, ArrayView4};
use nestevo_arch::ArchSpec;
use nestevo_core::invalid;
use rayon::prelude::*;

/// Stride, padding (zeros), dilation and groups, as (rows, columns) where two apply.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Conv2dShape {
    pub stride: (usize, usize),
    pub padding: (usize, usize),
    pub dilation: (usize, usize),
    pub groups: usize,
}

impl Default for Conv2dShape {
    fn default() -> Self {
        Conv2dShape {
            stride: (1, 1),
            padding: (0, 0),
            dilation: (1, 1),
            groups: 1,
        }
    }
}

impl Conv2dShape {
    /// A 1x1 kernel at stride 1 without padding: each output position is one input pixel, so a
    /// frame's patches are its [Cin, H*W] block transposed.
    pub fn pointwise(&self, kh: usize, kw: usize) -> bool {
        (kh, kw) == (1, 1) && self.stride == (1, 1) && self.padding == (0, 0)
    }

    /// Output height and width for an input of h x w and a kernel of kh x kw.
    pub fn output(&self, h: usize, w: usize, kh: usize, kw: usize) -> Result<(usize, usize)> {
        let span = |n: usize, p: usize, d: usize, k: usize, s: usize| -> Option<usize> {
            let eff = d * (k - 1) + 1;
            (n + 2 * p).checked_sub(eff).map(|r| r / s + 1)
        };
        match (
            span(h, self.padding.0, self.dilation.0, kh, self.stride.0),
            span(w, self.padding.1, self.dilation.1, kw, self.stride.1),
        ) {
            (Some(a), Some(b)) => Ok((a, b)),
            _ => invalid!(
                "a {kh}x{kw} kernel (dilation {:?}, padding {:?}) does not fit a {h}x{w} input",
                self.dilation,
                self.padding
            ),
        }
    }
}

/// Folds y = gamma * (conv(x) + b - mean) / sqrt(var + eps) + beta into the weights and bias.
pub fn fold_batch_norm(
    weight: &mut Array4<f32>,
    bias: &mut Array1<f32>,
    gamma: &Array1<f32>,
    beta: &Array1<f32>,
    mean: &Array1<f32>,
    var: &Array1<f32>,
    eps: f32,
) -> Result<()> {
    let cout = weight.dim().0;
    for (name, a) in [
        ("bias", &*bias),
        ("gamma", gamma),
        ("beta", beta),
        ("mean", mean),
        ("var", var),
    ] {
        if a.len() != cout {
            invalid!(
                "batch-norm {name} has {} values, the convolution has {cout} output channels",
                a.len()
            );
        }
    }
    for o in 0..cout {
        let g = gamma[o] / (var[o] + eps).sqrt();
        weight.slice_mut(s![o, .., .., ..]).mapv_inplace(|w| w * g);
        bias[o] = (bias[o] - mean[o]) * g + beta[o];
    }
    Ok(())
}

/// Patches of group `g`: [B * Ho * Wo, Cin/groups * kh * kw], zero outside the input.
pub fn im2col(
    x: ArrayView4<f32>,
    g: usize,
    cin_g: usize,
    (kh, kw): (usize, usize),
    sh: &Conv2dShape,
    (ho, wo): (usize, usize),
) -> Array2<f32> {
    let (b, _, h, w) = x.dim();
    let k = cin_g * kh * kw;
    let mut cols = Array2::<f32>::zeros((b * ho * wo, k));
    let xs = x.as_standard_layout();
    let xs = xs.as_slice().expect("standard layout");
    let cin = x.dim().1;
    if sh.pointwise(kh, kw) && k > 0 {
        // A 1x1 kernel: frame n's [Cin/g, H*W] block transposed. In blocks of rows, each
        // channel's pixels are read in order (a row at a time would read Cin/g planes apart).
        const ROWS: usize = 64;
        let hw = h * w;
        cols.as_slice_mut()
            .expect("fresh array")
            .par_chunks_mut(ROWS * k)
            .enumerate()
            .for_each(|(ci, chunk)| {
                let base: Vec<usize> = (ci * ROWS..ci * ROWS + chunk.len() / k)
                    .map(|r| (r / hw * cin + g * cin_g) * hw + r % hw)
                    .collect();
                for c in 0..cin_g {
                    for (i, &o) in base.iter().enumerate() {
                        chunk[i * k + c] = xs[o + c * hw];
                    }
                }
            });
        return cols;
    }
    // One output position a row, in parallel; each row writes only its own values.
    cols.as_slice_mut()
        .expect("fresh array")
        .par_chunks_mut(k.max(1))
        .enumerate()
        .for_each(|(r, row)| {
            let (n, oy, ox) = (r / (ho * wo), (r / wo) % ho, r % wo);
            for c in 0..cin_g {
                let plane = &xs[(n * cin + g * cin_g + c) * h * w..][..h * w];
                for i in 0..kh {
                    let y = (oy * sh.stride.0 + i * sh.dilation.0) as isize - sh.padding.0 as isize;
                    if y < 0 || y as usize >= h {
                        continue;
                    }
                    let line = &plane[y as usize * w..][..w];
                    let out = &mut row[(c * kh + i) * kw..][..kw];
                    for (j, o) in out.iter_mut().enumerate() {
                        let xx =
                            (ox * sh.stride.1 + j * sh.dilation.1) as isize - sh.padding.1 as isize;
                        if xx >= 0 && (xx as usize) < w {
                            *o = line[xx as usize];
                        }
                    }
                }
            }
        });
    cols
}

/// A 2-D convolution: weight `[Cout, Cin/groups, kh, kw]`, bias `[Cout]`.
pub struct CimConv2d {
    shape: Conv2dShape,
    cin: usize,
    cout: usize,
    kernel: (usize, usize),
    groups: Vec<QuantMatrix>,
    bias: Array1<f32>,
    act: Option<ActQuant>,
    input_bits: u32,
}

impl CimConv2d {
    pub fn new(
        spec: &ArchSpec,
        weight: ArrayView4<f32>,
        bias: Option<Array1<f32>>,
        shape: Conv2dShape,
        noise: &NoiseSpec,
    ) -> Result<Self> {
        Self::new_on(spec, weight, bias, shape, noise, &Backend::cpu())
    }

    /// `new` on the engine `backend`.
    pub fn new_on(
        spec: &ArchSpec,
        weight: ArrayView4<f32>,
        bias: Option<Array1<f32>>,
        shape: Conv2dShape,
        noise: &NoiseSpec,
        backend: &Backend,
    ) -> Result<Self> {
        let (cout, cin_g, kh, kw) = weight.dim();
        let g = shape.groups;
        if g == 0 || cout % g != 0 || cout == 0 || cin_g == 0 || kh == 0 || kw == 0 {
            invalid!("convolution weight [{cout}, {cin_g}, {kh}, {kw}] with {g} groups: Cout must be a positive multiple of groups and every dimension > 0");
        }
        if [
            shape.stride.0,
            shape.stride.1,
            shape.dilation.0,
            shape.dilation.1,
        ]
        .contains(&0)
        {
            invalid!("convolution stride and dilation must be >= 1, got {shape:?}");
        }
        let bias = bias.unwrap_or_else(|| Array1::zeros(cout));
        if bias.len() != cout {
            invalid!(
                "convolution bias has {} values, expected Cout = {cout}",
                bias.len()
            );
        }
        let cout_g = cout / g;
        let mut groups = Vec::with_capacity(g);
        for gi in 0..g {
            let wg = weight.slice(s![gi * cout_g..(gi + 1) * cout_g, .., .., ..]);
            // [cout_g, K] -> K x N with K in (channel, row, column) order, as im2col.
            // A view where the group's weights are contiguous (always, from a standard array).
            let owned;
            let m = match wg.into_shape_with_order((cout_g, cin_g * kh * kw)) {
                Ok(v) => v.reversed_axes(),
                Err(_) => {
                    owned = wg
                        .to_owned()
                        .into_shape_with_order((cout_g, cin_g * kh * kw))?;
                    owned.view().reversed_axes()
                }
            };
            // Each group draws its own noise.
            let mut nz = *noise;
            nz.seed = noise.seed.wrapping_add(gi as u64);
            groups.push(QuantMatrix::new_on(spec, m.view(), &nz, backend)?);
        }
        Ok(CimConv2d {
            shape,
            cin: cin_g * g,
            cout,
            kernel: (kh, kw),
            groups,
            bias,
            act: None,
            input_bits: spec.data.input_bits,
        })
    }

    /// One programmed matrix per group (K = Cin/groups * kh * kw, N = Cout/groups).
    pub fn groups(&self) -> &[QuantMatrix] {
        &self.groups
    }

    pub fn bias(&self) -> &Array1<f32> {
        &self.bias
    }

    /// The calibrated input quantisation, once set.
    pub fn act_quant(&self) -> Option<ActQuant> {
        self.act
    }

    pub fn shape(&self) -> Conv2dShape {
        self.shape
    }

    /// (kh, kw).
    pub fn kernel(&self) -> (usize, usize) {
        self.kernel
    }

    /// (Cin, Cout).
    pub fn channels(&self) -> (usize, usize) {
        (self.cin, self.cout)
    }

    pub fn calibrate(&mut self, samples: ArrayView4<f32>) {
        let v: Vec<f32> = samples.iter().copied().collect();
        self.act = Some(ActQuant::calibrate(&v, self.input_bits));
    }

    /// x [B, Cin, H, W] -> y [B, Cout, Ho, Wo]. An uncalibrated layer calibrates on this batch.
    pub fn forward(&mut self, x: ArrayView4<f32>) -> Result<(Array4<f32>, LayerStats)> {
        let (b, c, h, w) = x.dim();
        if c != self.cin {
            invalid!(
                "convolution input has {c} channels, the layer takes {}",
                self.cin
            );
        }
        let (ho, wo) = self.shape.output(h, w, self.kernel.0, self.kernel.1)?;
        if self.act.is_none() {
            self.calibrate(x);
        }
        let act = self.act.expect("calibrated");
        let g = self.groups.len();
        let (cin_g, cout_g) = (self.cin / g, self.cout / g);
        let mut y = Array4::<f32>::zeros((b, self.cout, ho, wo));
        let mut stats = LayerStats::default();
        let hw = ho * wo;
        for (gi, qm) in self.groups.iter().enumerate() {
            let cols = im2col(x, gi, cin_g, self.kernel, &self.shape, (ho, wo));
            let (out, st) = qm.forward(cols.view(), &act)?;
            stats += st;
            // y[n, gi*cout_g + o] (one Ho x Wo plane each) from column o of frame n's rows of out.
            let ys = y.as_slice_mut().expect("fresh array");
            ys.par_chunks_mut(self.cout * hw)
                .enumerate()
                .for_each(|(n, frame)| {
                    let group = &mut frame[gi * cout_g * hw..(gi + 1) * cout_g * hw];
                    group.par_chunks_mut(hw).enumerate().for_each(|(o, plane)| {
                        let bias = self.bias[gi * cout_g + o];
                        for (p, v) in plane.iter_mut().enumerate() {
                            *v = out[[n * hw + p, o]] + bias;
                        }
                    });
                });
        }
        // The groups work side by side on their own crossbars, like copies: a frame's input
        // vectors are its output positions, not that times the groups (the performance model
        // counts them the same way).
        stats.vectors = (b * ho * wo) as u64;
        Ok((y, stats))
    }
}
