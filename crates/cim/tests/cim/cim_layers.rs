//! Float layers through quantisation and crossbars agree with plain float arithmetic to within
//! 16-bit quantisation error; the digital layers compute what they say.

use ndarray::{array, Array1, Array2, Array4};
use nestevo_arch::preset;
use nestevo_cim::conv::im2col;
use nestevo_cim::digital::{add, avg_pool2d, concat_channels, max_pool2d, relu, upsample_nearest};
use nestevo_cim::{fold_batch_norm, CimConv2d, CimLinear, Conv2dShape, NoiseSpec};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

fn rel_err(a: &[f32], b: &[f32]) -> f32 {
    let num: f32 = a.iter().zip(b).map(|(x, y)| (x - y).abs()).sum();
    num / b.iter().map(|x| x.abs()).sum::<f32>()
}

/// Plain float convolution, for reference.
fn conv_ref(x: &Array4<f32>, w: &Array4<f32>, b: &Array1<f32>, s: &Conv2dShape) -> Array4<f32> {
    let (n, _, h, wd) = x.dim();
    let (cout, cin_g, kh, kw) = w.dim();
    let (ho, wo) = s.output(h, wd, kh, kw).unwrap();
    let cout_g = cout / s.groups;
    Array4::from_shape_fn((n, cout, ho, wo), |(bi, o, oy, ox)| {
        let g = o / cout_g;
        let mut acc = b[o];
        for c in 0..cin_g {
            for i in 0..kh {
                for j in 0..kw {
                    let y = (oy * s.stride.0 + i * s.dilation.0) as isize - s.padding.0 as isize;
                    let xx = (ox * s.stride.1 + j * s.dilation.1) as isize - s.padding.1 as isize;
                    if y >= 0 && xx >= 0 && (y as usize) < h && (xx as usize) < wd {
                        acc += w[[o, c, i, j]] * x[[bi, g * cin_g + c, y as usize, xx as usize]];
                    }
                }
            }
        }
        acc
    })
}

#[test]
fn linear_matches_float() {
    let spec = preset("isaac").unwrap();
    let mut r = ChaCha8Rng::seed_from_u64(1);
    let w = Array2::from_shape_fn((30, 200), |_| r.gen_range(-0.5f32..0.5));
    let b = Array1::from_shape_fn(30, |_| r.gen_range(-1f32..1.0));
    let x = Array2::from_shape_fn((4, 200), |_| r.gen_range(-2f32..2.0));
    let mut l = CimLinear::new(&spec, w.view(), Some(b.clone()), &NoiseSpec::default()).unwrap();
    l.calibrate(x.view());
    assert!(l.act_quant().unwrap().signed);
    let (y, st) = l.forward(x.view()).unwrap();
    let want = x.dot(&w.t()) + &b;
    let e = rel_err(y.as_slice().unwrap(), want.as_slice().unwrap());
    assert!(e < 1e-3, "relative error {e}");
    assert_eq!(st.crossbars, 2 * 2);
    assert!(l.forward(Array2::zeros((1, 199)).view()).is_err());
}

#[test]
fn conv_with_stride_padding_dilation_groups_matches_float() {
    let spec = preset("isaac").unwrap();
    let mut r = ChaCha8Rng::seed_from_u64(2);
    let shape = Conv2dShape {
        stride: (2, 1),
        padding: (1, 2),
        dilation: (1, 2),
        groups: 2,
    };
    let w = Array4::from_shape_fn((6, 2, 3, 3), |_| r.gen_range(-0.5f32..0.5));
    let b = Array1::from_shape_fn(6, |_| r.gen_range(-1f32..1.0));
    // Non-negative inputs (after a ReLU): unsigned codes.
    let x = Array4::from_shape_fn((2, 4, 9, 8), |_| r.gen_range(0f32..1.0));
    let mut c = CimConv2d::new(
        &spec,
        w.view(),
        Some(b.clone()),
        shape,
        &NoiseSpec::default(),
    )
    .unwrap();
    let (y, st) = c.forward(x.view()).unwrap();
    let want = conv_ref(&x, &w, &b, &shape);
    assert_eq!(y.dim(), want.dim());
    let e = rel_err(y.as_slice().unwrap(), want.as_slice().unwrap());
    assert!(e < 1e-3, "relative error {e}");
    let (ho, wo) = (want.dim().2, want.dim().3);
    assert_eq!(
        st.vectors,
        (2 * ho * wo) as u64,
        "one vector per output position (the groups run side by side)"
    );
    assert_eq!(st.crossbars, 2, "one crossbar per group");
    // im2col of a 1x1 kernel is a reshape.
    let cols = im2col(x.view(), 0, 4, (1, 1), &Conv2dShape::default(), (9, 8));
    assert_eq!(cols[[9, 3]], x[[0, 3, 1, 1]]);
}

#[test]
fn batch_norm_folds_into_the_conv() {
    let mut r = ChaCha8Rng::seed_from_u64(3);
    let shape = Conv2dShape::default();
    let mut w = Array4::from_shape_fn((3, 2, 3, 3), |_| r.gen_range(-0.5f32..0.5));
    let mut b = Array1::from_shape_fn(3, |_| r.gen_range(-1f32..1.0));
    let x = Array4::from_shape_fn((1, 2, 5, 5), |_| r.gen_range(-1f32..1.0));
    let (g, be, m, v) = (
        array![1.5f32, 0.5, 2.0],
        array![0.1f32, -0.2, 0.3],
        array![0.2f32, -0.1, 0.0],
        array![0.5f32, 2.0, 1.0],
    );
    let plain = conv_ref(&x, &w, &b, &shape);
    let mut bn = plain.clone();
    for o in 0..3 {
        bn.slice_mut(ndarray::s![.., o, .., ..])
            .mapv_inplace(|y| g[o] * (y - m[o]) / (v[o] + 1e-5).sqrt() + be[o]);
    }
    fold_batch_norm(&mut w, &mut b, &g, &be, &m, &v, 1e-5).unwrap();
    let folded = conv_ref(&x, &w, &b, &shape);
    assert!(rel_err(folded.as_slice().unwrap(), bn.as_slice().unwrap()) < 1e-5);
    assert!(fold_batch_norm(&mut w, &mut b, &array![1.0f32], &be, &m, &v, 1e-5).is_err());
}

#[test]
fn digital_layers() {
    let x = Array4::from_shape_fn((1, 1, 4, 4), |(_, _, y, x)| (y * 4 + x) as f32 - 5.0);
    let mut rl = x.clone();
    relu(&mut rl);
    assert_eq!(rl[[0, 0, 0, 0]], 0.0);
    assert_eq!(rl[[0, 0, 3, 3]], 10.0);
    let mp = max_pool2d(x.view(), 2, 2, 0).unwrap();
    assert_eq!(mp.into_raw_vec_and_offset().0, vec![0.0, 2.0, 8.0, 10.0]);
    let ap = avg_pool2d(x.view(), 2, 2, 0).unwrap();
    assert_eq!(ap.into_raw_vec_and_offset().0, vec![-2.5, -0.5, 5.5, 7.5]);
    let up = upsample_nearest(x.view(), 2).unwrap();
    assert_eq!(up.dim(), (1, 1, 8, 8));
    assert_eq!(up[[0, 0, 7, 6]], x[[0, 0, 3, 3]]);
    let cat = concat_channels(&[x.view(), rl.view()]).unwrap();
    assert_eq!(cat.dim(), (1, 2, 4, 4));
    assert_eq!(cat[[0, 1, 3, 3]], 10.0);
    let s = add(x.view(), rl.view()).unwrap();
    assert_eq!(s[[0, 0, 3, 3]], 20.0);
    assert!(add(x.view(), up.view()).is_err());
    assert!(concat_channels(&[x.view(), up.view()]).is_err());
    assert!(max_pool2d(x.view(), 5, 1, 0).is_err());
}

#[test]
fn weights_quantise_the_same_from_any_layout() {
    let mut rng = ChaCha8Rng::seed_from_u64(11);
    // A conv's weights reach the crossbars as a transposed view [K, N] of [N, K]; 77 rows are
    // two whole blocks of the transposed path and a partial one.
    let w = Array2::from_shape_fn((7, 77), |_| rng.gen_range(-2.0f32..2.0));
    let view = w.view().reversed_axes();
    assert!(!view.is_standard_layout());
    let q = nestevo_cim::WeightQuant::max_abs(w.as_slice().unwrap(), 16);
    let from_view = q.quantize(view);
    let from_copy = q.quantize(view.as_standard_layout().view());
    assert!(from_view.is_standard_layout());
    assert_eq!(from_view, from_copy);
    assert_eq!(from_view.dim(), (77, 7));
    // Round to nearest with the max-abs scale: the largest weight maps to the top code.
    let (i, m) = w
        .iter()
        .enumerate()
        .max_by(|a, b| a.1.abs().total_cmp(&b.1.abs()))
        .unwrap();
    assert_eq!(from_view[[i % 77, i / 77]].abs(), 32767, "max |w| = {m}");
}

/// `data.weight_scale = "column"`: each output column gets its own max-abs scale, so a column
/// of small weights keeps all 2^15 - 1 levels where one layer scale leaves it a handful; the
/// integers and the rescale are exactly the hand computation.
/// The layer's max-abs scale is the largest |w| wherever it lies (over blocks of the threads), and
/// a layer holding an infinite or NaN weight anywhere is refused.
#[test]
fn max_abs_scale_and_non_finite_weights() {
    let spec = preset("isaac").unwrap();
    let mut r = ChaCha8Rng::seed_from_u64(12);
    // 300 x 400 = 120 000 weights: two blocks of the scan.
    let mut w = Array2::from_shape_fn((300, 400), |_| r.gen_range(-0.5f32..0.5));
    w[[217, 301]] = -0.75;
    let q = nestevo_cim::WeightQuant::max_abs(w.as_slice().unwrap(), 16);
    assert_eq!(q.scale, 0.75 / 32767.0);
    assert!(CimLinear::new(&spec, w.view(), None, &NoiseSpec::default()).is_ok());
    for bad in [f32::NAN, f32::INFINITY, f32::NEG_INFINITY] {
        let mut wb = w.clone();
        wb[[299, 399]] = bad;
        let err = CimLinear::new(&spec, wb.view(), None, &NoiseSpec::default())
            .err()
            .unwrap_or_else(|| panic!("a weight {bad} was accepted"));
        assert!(err.to_string().contains("non-finite"), "{err}");
    }
}

#[test]
fn column_scales_keep_each_columns_levels() {
    let layer = preset("isaac").unwrap();
    let column =
        nestevo_arch::apply_overrides(&layer, &["data.weight_scale=column".into()], "t").unwrap();
    let mut r = ChaCha8Rng::seed_from_u64(4);
    // PyTorch layout [out, in]: output 1's weights are 1e-4 of output 0's.
    let w = Array2::from_shape_fn((2, 64), |(o, _)| {
        r.gen_range(-1f32..1.0) * if o == 1 { 1e-4 } else { 1.0 }
    });
    let x = Array2::from_shape_fn((3, 64), |_| r.gen_range(0f32..1.0));
    let want = x.dot(&w.t());
    let err = |spec: &nestevo_arch::ArchSpec| {
        let mut l = CimLinear::new(spec, w.view(), None, &NoiseSpec::default()).unwrap();
        l.calibrate(x.view());
        let (y, _) = l.forward(x.view()).unwrap();
        let col = |a: &Array2<f32>| a.column(1).to_vec();
        (rel_err(&col(&y), &col(&want)), l)
    };
    let (e_layer, _) = err(&layer);
    let (e_col, l) = err(&column);
    assert!(e_col < 1e-4, "column scales: small column's error {e_col}");
    assert!(
        e_layer > 100.0 * e_col,
        "one layer scale: {e_layer} against {e_col}"
    );

    // The scales and integers by hand: s_n = max_k |w[k, n]| / 32767, round to nearest.
    let wq = &l.quant_matrix().wq;
    let cols = wq.columns.as_ref().expect("column scales");
    for (n, &s) in cols.iter().enumerate() {
        let m = w.row(n).iter().fold(0f32, |a, &v| a.max(v.abs()));
        assert_eq!(s, m / 32767.0);
    }
    assert_eq!(
        wq.scale,
        cols[0].max(cols[1]),
        "the layer's scale is the largest"
    );
    let q = wq.quantize(w.t());
    for ((k, n), &v) in q.indexed_iter() {
        assert_eq!(v, (w[[n, k]] / cols[n]).round() as i64);
    }
    // The rescale multiplies each output by its own column's scale, in f64.
    let y = ndarray::array![[3i64, -5], [7, 11]];
    let d = wq.dequantize(y.view(), 0.25);
    for ((b, n), &v) in d.indexed_iter() {
        assert_eq!(v, (y[[b, n]] as f64 * cols[n] as f64 * 0.25) as f32);
    }
    // An all-zero column keeps scale 1 and integers 0, as an all-zero layer does.
    let z = Array2::from_shape_fn((4, 2), |(_, n)| if n == 0 { 0.5f32 } else { 0.0 });
    let zq = nestevo_cim::WeightQuant::per_column(z.view(), 16);
    assert_eq!(zq.columns.as_deref(), Some(&[0.5 / 32767.0, 1.0][..]));
    assert!(zq.quantize(z.view()).column(1).iter().all(|&v| v == 0));
}

/// im2col against a direct gather, and the float reference's convolution against the plain
/// one and, value for value, against patches . W^T (what it computes in another layout), over
/// the 1x1 shortcut (stride 1, no padding; 216 rows cross its 64-row blocks and the frames) and
/// the general path.
#[test]
fn im2col_and_float_conv_over_shapes() {
    use nestevo_cim::network::float::conv2d;
    let mut r = ChaCha8Rng::seed_from_u64(5);
    let x = Array4::from_shape_fn((3, 6, 9, 8), |_| r.gen_range(-1f32..1.0));
    let one = Conv2dShape::default();
    let cases = [
        ((1, 1), one, 1),
        ((1, 1), Conv2dShape { groups: 2, ..one }, 2),
        (
            (1, 1),
            Conv2dShape {
                stride: (2, 2),
                ..one
            },
            1,
        ),
        (
            (3, 3),
            Conv2dShape {
                padding: (1, 1),
                groups: 3,
                ..one
            },
            3,
        ),
        (
            (3, 2),
            Conv2dShape {
                stride: (2, 1),
                padding: (1, 0),
                dilation: (1, 2),
                groups: 1,
            },
            1,
        ),
    ];
    for ((kh, kw), sh, g) in cases {
        let cin_g = 6 / g;
        let (ho, wo) = sh.output(9, 8, kh, kw).unwrap();
        for gi in 0..g {
            let cols = im2col(x.view(), gi, cin_g, (kh, kw), &sh, (ho, wo));
            assert_eq!(cols.dim(), (3 * ho * wo, cin_g * kh * kw));
            for ((row, col), &v) in cols.indexed_iter() {
                let (n, oy, ox) = (row / (ho * wo), row / wo % ho, row % wo);
                let (c, i, j) = (col / (kh * kw), col / kw % kh, col % kw);
                let y = (oy * sh.stride.0 + i * sh.dilation.0) as isize - sh.padding.0 as isize;
                let xx = (ox * sh.stride.1 + j * sh.dilation.1) as isize - sh.padding.1 as isize;
                let want = if (0..9).contains(&y) && (0..8).contains(&xx) {
                    x[[n, gi * cin_g + c, y as usize, xx as usize]]
                } else {
                    0.0
                };
                assert_eq!(v, want, "{kh}x{kw} {sh:?} group {gi} row {row} col {col}");
            }
        }
        let w = Array4::from_shape_fn((4 * g, cin_g, kh, kw), |_| r.gen_range(-0.5f32..0.5));
        let b = Array1::from_shape_fn(4 * g, |_| r.gen_range(-1f32..1.0));
        let y = conv2d(x.view(), &w, Some(&b), &sh).unwrap();
        let want = conv_ref(&x, &w, &b, &sh);
        assert_eq!(y.dim(), want.dim());
        assert!(rel_err(y.as_slice().unwrap(), want.as_slice().unwrap()) < 1e-6);
        for gi in 0..g {
            let cols = im2col(x.view(), gi, cin_g, (kh, kw), &sh, (ho, wo));
            let wg = w
                .slice(ndarray::s![gi * 4..(gi + 1) * 4, .., .., ..])
                .to_owned()
                .into_shape_with_order((4, cin_g * kh * kw))
                .unwrap();
            let out = cols.dot(&wg.t());
            for ((row, o), &v) in out.indexed_iter() {
                let (n, oy, ox) = (row / (ho * wo), row / wo % ho, row % wo);
                assert_eq!(y[[n, gi * 4 + o, oy, ox]], v + b[gi * 4 + o], "{sh:?}");
            }
        }
    }
}

/// `round_i64` is `round() as i64` for every f32 kind: a stride through all bit patterns,
/// every half-integer (and its neighbours) up to 2^16 and where f32's step reaches 1/2 and 1,
/// the signed zeros, NaN and the infinities.
#[test]
fn quantiser_rounding_equals_round() {
    use nestevo_cim::quant::round_i64;
    let check = |v: f32| assert_eq!(round_i64(v), v.round() as i64, "{v:e} ({:#x})", v.to_bits());
    for bits in (0..=u32::MAX).step_by(4099) {
        check(f32::from_bits(bits));
    }
    let near = |v: f32| {
        for u in [v, -v] {
            check(u);
            check(f32::from_bits(u.to_bits() + 1));
            check(f32::from_bits(u.to_bits() - 1));
        }
    };
    for k in 0..=65536u32 {
        near(k as f32 + 0.5);
    }
    for k in [1u32 << 22, 1 << 23, 1 << 24] {
        for d in 0..64 {
            near((k - 32 + d) as f32 + 0.5);
            near((k - 32 + d) as f32);
        }
    }
    for v in [
        0.0,
        -0.0,
        f32::NAN,
        f32::INFINITY,
        f32::NEG_INFINITY,
        f32::MAX,
        f32::MIN,
    ] {
        check(v);
    }
}
