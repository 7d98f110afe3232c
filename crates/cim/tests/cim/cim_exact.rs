//! The arithmetic contract (SPEC 3.2): exact when the ADC is wide enough, and otherwise equal to
//! a plain per-column model of the saturating hardware.

use ndarray::Array2;
use nestevo_arch::{apply_overrides, preset, ArchSpec};
use nestevo_cim::{CimMatrix, NoiseSpec};
use proptest::prelude::*;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

fn spec_with(sets: &[String]) -> ArchSpec {
    apply_overrides(&preset("isaac").unwrap(), sets, "test").unwrap()
}

fn random_matrices(
    spec: &ArchSpec,
    (b, k, n): (usize, usize, usize),
    signed: bool,
    seed: u64,
    big_weights: bool,
) -> (Array2<i64>, Array2<i64>) {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let wb = spec.data.weight_bits;
    let ib = spec.data.input_bits;
    let (wlo, whi) = (-(1i64 << (wb - 1)), (1i64 << (wb - 1)) - 1);
    let w = Array2::from_shape_fn((k, n), |_| {
        if big_weights {
            // Near the top of the range: biased values with every slice near its maximum.
            rng.gen_range(whi - whi / 8..=whi)
        } else {
            rng.gen_range(wlo..=whi)
        }
    });
    let x = Array2::from_shape_fn((b, k), |_| {
        if big_weights && !signed {
            // Large inputs too: their top bits are set in most rows.
            let top = (1i64 << ib) - 1;
            rng.gen_range(top - top / 8..=top)
        } else if signed {
            rng.gen_range(-(1i64 << (ib - 1))..(1i64 << (ib - 1)))
        } else {
            rng.gen_range(0..(1i64 << ib))
        }
    });
    (w, x)
}

fn exact_product(w: &Array2<i64>, x: &Array2<i64>) -> Array2<i64> {
    x.dot(w)
}

/// A straightforward model of the hardware, one column at a time (SPEC 3.2 steps 2-7),
/// written independently of the kernels: exact ADC range, 1-bit DACs.
fn per_column_model(
    spec: &ArchSpec,
    w: &Array2<i64>,
    x: &Array2<i64>,
    signed: bool,
) -> Array2<i64> {
    assert_eq!(spec.dac.bits, 1);
    let (k, n) = w.dim();
    let b = x.nrows();
    let rows = spec.crossbar.rows as usize;
    let bpc = spec.crossbar.bits_per_cell;
    let slices = spec.slices_per_weight();
    let cmax = spec.cell_max() as i64;
    let maxc = (1i64 << spec.adc.bits) - 1;
    let ib = spec.data.input_bits;
    let bias = 1i64 << (spec.data.weight_bits - 1);
    let mut y = Array2::<i64>::zeros((b, n));
    for v in 0..b {
        for o in 0..n {
            let mut acc = 0i64;
            for r0 in (0..k).step_by(rows) {
                let r1 = (r0 + rows).min(k);
                for s in 0..slices {
                    let cell: Vec<i64> = (r0..r1)
                        .map(|r| ((w[[r, o]] + bias) >> (s * bpc)) & cmax)
                        .collect();
                    let flip = spec.encoding.flip
                        && 2 * cell.iter().sum::<i64>() > (r1 - r0) as i64 * cmax;
                    for bit in 0..ib {
                        let xb: Vec<i64> = (r0..r1)
                            .map(|r| ((x[[v, r]] & ((1i64 << ib) - 1)) >> bit) & 1)
                            .collect();
                        let u: i64 = xb.iter().sum();
                        let sum: i64 = xb
                            .iter()
                            .zip(&cell)
                            .map(|(a, c)| a * if flip { cmax - c } else { *c })
                            .sum();
                        let code = sum.min(maxc);
                        let val = if flip {
                            cmax * u.min(maxc) - code
                        } else {
                            code
                        };
                        let sign = if signed && bit == ib - 1 { -1 } else { 1 };
                        acc += (sign * (val << bit)) << (s * bpc);
                    }
                }
            }
            let xsum: i64 = (0..k).map(|r| x[[v, r]]).sum();
            y[[v, o]] = acc - bias * xsum;
        }
    }
    y
}

fn run(
    spec: &ArchSpec,
    w: &Array2<i64>,
    x: &Array2<i64>,
    signed: bool,
) -> (Array2<i64>, nestevo_cim::LayerStats) {
    CimMatrix::program(spec, w.view(), &NoiseSpec::default())
        .unwrap()
        .mvm(x.view(), signed)
        .unwrap()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 40, ..ProptestConfig::default() })]

    /// Any knobs, an ADC as wide as the largest column sum: exactly the integer product.
    #[test]
    fn lossless_adc_is_exact(
        rows in 16u32..=256,
        bpc in prop::sample::select(vec![1u32, 2, 4]),
        wbits in prop::sample::select(vec![4u32, 8, 16]),
        ibits in prop::sample::select(vec![4u32, 8, 16, 24]),
        extra_cols in 0u32..100,
        flip in any::<bool>(),
        signed in any::<bool>(),
        k in 1usize..=1000,
        n in 1usize..=300,
        // 16 vectors or more run the bit-sliced kernel, fewer the popcount one.
        b in prop::sample::select(vec![1usize, 3, 40]),
        seed in any::<u64>(),
    ) {
        let slices = wbits / bpc;
        let cols = slices + extra_cols;
        let mut sets = vec![
            format!("crossbar.rows={rows}"), format!("crossbar.cols={cols}"),
            format!("crossbar.bits_per_cell={bpc}"), format!("data.weight_bits={wbits}"),
            format!("data.input_bits={ibits}"), format!("encoding.flip={flip}"),
        ];
        let s0 = spec_with(&sets);
        sets.push(format!("adc.bits={}", s0.lossless_adc_bits()));
        let spec = spec_with(&sets);
        let (w, x) = random_matrices(&spec, (b, k, n), signed, seed, false);
        let (y, st) = run(&spec, &w, &x, signed);
        prop_assert_eq!(y, exact_product(&w, &x));
        prop_assert_eq!(st.adc_saturations, 0);
    }

    /// Flip off and too few ADC bits: whatever the hardware computes, column by column.
    #[test]
    fn saturating_adc_matches_per_column_model(
        rows in 16u32..=128,
        bpc in prop::sample::select(vec![1u32, 2]),
        adc_bits in 3u32..=8,
        flip in any::<bool>(),
        signed in any::<bool>(),
        big in any::<bool>(),
        k in 1usize..=300,
        n in 1usize..=40,
        b in prop::sample::select(vec![2usize, 35]),
        seed in any::<u64>(),
    ) {
        let spec = spec_with(&[
            format!("crossbar.rows={rows}"), format!("crossbar.bits_per_cell={bpc}"),
            format!("adc.bits={adc_bits}"), format!("encoding.flip={flip}"),
        ]);
        let (w, x) = random_matrices(&spec, (b, k, n), signed, seed, big);
        let (y, _) = run(&spec, &w, &x, signed);
        prop_assert_eq!(y, per_column_model(&spec, &w, &x, signed));
    }
}

#[test]
fn isaac_preset_is_exact_for_extreme_weights() {
    let spec = preset("isaac").unwrap();
    assert_eq!(spec.adc.bits, 8);
    for (big, signed, seed) in [(true, false, 1), (false, true, 2), (true, true, 3)] {
        let (w, x) = random_matrices(&spec, (3, 700, 50), signed, seed, big);
        let (y, st) = run(&spec, &w, &x, signed);
        assert_eq!(y, exact_product(&w, &x));
        assert_eq!(st.adc_saturations, 0);
    }
    // All-maximum inputs and weights: every column and the unit column at their largest sums.
    let w = Array2::from_elem((256, 16), 32767i64);
    let x = Array2::from_elem((1, 256), 65535i64);
    assert_eq!(run(&spec, &w, &x, false).0, exact_product(&w, &x));
}

#[test]
fn flip_off_8_bits_saturates_on_large_weights_as_modelled() {
    let spec = spec_with(&["encoding.flip=false".into()]);
    let (w, x) = random_matrices(&spec, (2, 256, 20), false, 9, true);
    let (y, st) = run(&spec, &w, &x, false);
    assert_ne!(
        y,
        exact_product(&w, &x),
        "large weights must saturate an 8-bit ADC without flipping"
    );
    assert!(st.adc_saturations > 0);
    assert_eq!(y, per_column_model(&spec, &w, &x, false));
    // The same chip with a 9-bit ADC is exact again.
    let spec9 = preset("isaac-noflip-9bit").unwrap();
    assert_eq!(run(&spec9, &w, &x, false).0, exact_product(&w, &x));
}

#[test]
fn wider_dacs_and_calibrated_adc() {
    // 2-bit DACs (8 cycles), signed inputs fed offset-binary: exact with a lossless ADC.
    let s0 = spec_with(&["dac.bits=2".into()]);
    let spec = spec_with(&[
        "dac.bits=2".into(),
        format!("adc.bits={}", s0.lossless_adc_bits()),
    ]);
    for signed in [false, true] {
        let (w, x) = random_matrices(&spec, (3, 300, 30), signed, 4, false);
        let (y, st) = run(&spec, &w, &x, signed);
        assert_eq!(y, exact_product(&w, &x));
        assert_eq!(st.crossbar_reads, 3 * 3 * 2 * 8);
    }
    // A calibrated range with as many codes as steps is the exact range.
    let spec = spec_with(&["adc.range=calibrated".into(), "adc.bits=8".into()]);
    assert_eq!(spec.max_column_sum(), 192);
    let (w, x) = random_matrices(&spec, (2, 200, 20), false, 5, false);
    let exact = exact_product(&w, &x);
    let rel_err = |y: &Array2<i64>| {
        (y - &exact).mapv(|v| v.abs() as f64).sum() / exact.mapv(|v| v.abs() as f64).sum()
    };
    // Codes are shift-added and scaled by LSB = 192/255 steps once at the end: every
    // conversion rounds, so the result is close but not exact; fewer bits round coarser. The
    // error is relative to the signed result, after the 2^15 * sum(x) bias has been removed.
    let (y8, st8) = run(&spec, &w, &x, false);
    let spec5 = spec_with(&["adc.range=calibrated".into(), "adc.bits=5".into()]);
    let (y5, st5) = run(&spec5, &w, &x, false);
    assert_eq!(st8.adc_saturations + st5.adc_saturations, 0);
    let (e8, e5) = (rel_err(&y8), rel_err(&y5));
    assert!(e8 > 0.0 && e8 < 0.1, "8-bit calibrated ADC error {e8}");
    assert!(
        e5 > e8 && e5 < 1.0,
        "5-bit calibrated ADC error {e5} (8-bit {e8})"
    );
}

#[test]
fn event_counts_follow_the_definitions() {
    let spec = preset("isaac").unwrap();
    let (b, k, n) = (3usize, 300usize, 37usize);
    let (w, x) = random_matrices(&spec, (b, k, n), false, 6, false);
    let (_, st) = run(&spec, &w, &x, false);
    let (rt, ct) = (k.div_ceil(128) as u64, n.div_ceil(16) as u64);
    let cycles = 16u64;
    assert_eq!(st.crossbars, rt * ct);
    assert_eq!(st.crossbar_reads, rt * ct * cycles * b as u64);
    // Rows of the row tiles: 128 + 128 + 44.
    assert_eq!(st.dac_pulses, 300 * ct * cycles * b as u64);
    // Used data columns: 37 outputs x 8 slices per row tile, plus one unit column per crossbar.
    let data_cols = rt * 37 * 8;
    assert_eq!(
        st.adc_conversions,
        (data_cols + rt * ct) * cycles * b as u64
    );
    assert_eq!(st.shift_adds, data_cols * cycles * b as u64);
    assert_eq!(st.vectors, b as u64);
    assert_eq!(st.macs, (b * k * n) as u64);
    // Without flipping the unit column is not converted.
    let spec = spec_with(&["encoding.flip=false".into(), "adc.bits=9".into()]);
    let (_, st2) = run(&spec, &w, &x, false);
    assert_eq!(st2.adc_conversions, data_cols * cycles * b as u64);
}

#[test]
fn bad_shapes_and_ranges_are_refused() {
    let spec = preset("isaac").unwrap();
    let w = Array2::from_elem((10, 3), 40000i64);
    let e = CimMatrix::program(&spec, w.view(), &NoiseSpec::default())
        .err()
        .unwrap();
    assert!(
        e.to_string().contains("40000") && e.to_string().contains("-32768..=32767"),
        "{e}"
    );
    let w = Array2::from_elem((10, 3), 1i64);
    let m = CimMatrix::program(&spec, w.view(), &NoiseSpec::default()).unwrap();
    let e = m
        .mvm(Array2::from_elem((2, 9), 1i64).view(), false)
        .err()
        .unwrap();
    assert!(e.to_string().contains("K = 10"), "{e}");
    let e = m
        .mvm(Array2::from_elem((2, 10), -1i64).view(), false)
        .err()
        .unwrap();
    assert!(e.to_string().contains("unsigned"), "{e}");
}

/// The kernels' `XbarConfig::isaac()`, which their tests and examples start from, is what the
/// `isaac` preset gives the kernels.
#[test]
fn isaac_preset_is_the_kernels_isaac() {
    assert_eq!(
        nestevo_cim::xbar_config(&preset("isaac").unwrap()),
        nestevo_kernels::XbarConfig::isaac()
    );
}
