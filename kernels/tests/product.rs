//! The exact product against the bit-plane kernels: where it applies it gives the same outputs
//! and counts; where a conversion could saturate it must not apply, and the kernels clamp.

mod common;

use common::{lcg, reference};
use nestevo_kernels::{AdcMode, ExactKernel, InputMode, Programmed, XbarConfig};
use proptest::prelude::*;

fn inputs(s: &mut u64, n: usize, bits: u32, mode: InputMode) -> Vec<i64> {
    let r = 1i64 << bits;
    (0..n)
        .map(|_| match mode {
            InputMode::Unsigned => lcg(s) as i64 % r,
            InputMode::Signed => lcg(s) as i64 % r - r / 2,
        })
        .collect()
}

/// Runs `Auto` and the popcount kernel; equal outputs and counts. Returns whether `Auto` was
/// the product, and the saturations counted.
fn agree(
    cfg: &XbarConfig,
    w: &[i64],
    x: &[i64],
    shape: (usize, usize, usize),
    m: InputMode,
) -> (bool, u64) {
    let (b, k, n) = shape;
    let p = Programmed::new(cfg, w, k, n).unwrap();
    let linear = p.exact_product();
    let (y1, c1) = p.run(x, b, m, None).unwrap();
    let p = p.with_exact_kernel(ExactKernel::Popcount);
    let (y2, c2) = p.run(x, b, m, None).unwrap();
    assert_eq!(y1, y2, "{cfg:?} {m:?} product {linear}");
    assert_eq!(c1, c2, "{cfg:?} {m:?} product {linear}");
    if linear {
        assert_eq!(c2.adc_saturations, 0);
        assert_eq!(y1, reference(w, x, b, k, n));
    }
    (linear, c2.adc_saturations)
}

/// ISAAC with flipping always takes the product: a flipped column holds at most 192 < 255.
/// Fewer vectors than outputs and more: the product splits its work by columns and by rows.
#[test]
fn isaac_takes_the_product() {
    let mut s = 3u64;
    for (b, k, n, lean) in [
        (9, 300, 40, false),
        (9, 300, 40, true),
        (70, 300, 40, false),
    ] {
        let w: Vec<i64> = (0..k * n)
            .map(|_| {
                let v = lcg(&mut s) as i64 % 65536 - 32768;
                if lean {
                    v.abs() / 2 + 16383
                } else {
                    v
                }
            })
            .collect();
        for m in [InputMode::Unsigned, InputMode::Signed] {
            let x = inputs(&mut s, b * k, 16, m);
            assert!(agree(&XbarConfig::isaac(), &w, &x, (b, k, n), m).0);
        }
    }
}

/// The boundary: 85 rows of 3-level cells without flipping sum to at most 255, the top code of
/// an 8-bit ADC, and the product applies; at 86 rows the same all-ones weights reach 258, the
/// product must not apply, and the kernels saturate.
#[test]
fn saturation_boundary() {
    let cfg = XbarConfig {
        flip: false,
        ..XbarConfig::isaac()
    };
    let n = 3;
    for (k, applies) in [(85, true), (86, false)] {
        // w = 2^15 - 1 stores u = 2^16 - 1: every cell at level 3.
        let w = vec![32767i64; k * n];
        let x = vec![65535i64; 2 * k];
        let (linear, sat) = agree(&cfg, &w, &x, (2, k, n), InputMode::Unsigned);
        assert_eq!(linear, applies, "k {k}");
        assert_eq!(sat > 0, !applies, "k {k}: {sat} saturations");
    }
    // A calibrated ADC rounds each conversion: never the product.
    let cal = XbarConfig {
        adc_mode: AdcMode::Calibrated { full_scale: 255.0 },
        ..XbarConfig::isaac()
    };
    let p = Programmed::new(&cal, &[1, 2, 3, 4], 2, 2).unwrap();
    assert!(!p.exact_product());
    // Conductances programmed: the analogue path, never the product.
    let p = Programmed::new(&XbarConfig::isaac(), &[1, 2, 3, 4], 2, 2).unwrap();
    assert!(p.exact_product());
    assert!(!p.program_conductances(0.0, 1).unwrap().exact_product());
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]
    /// Random crossbars, ADCs, DAC widths and weight ranges (small weights, where flip-off
    /// columns stay in range, and large ones, where they do not): `Auto` and the popcount kernel
    /// agree on outputs and counts, and the product applies exactly when no column can saturate.
    #[test]
    fn product_agrees_with_bit_planes(
        rows in prop::sample::select(vec![8usize, 16, 33, 64, 128, 200]),
        bpc in prop::sample::select(vec![1u32, 2, 4]),
        wmul in 1u32..4,
        dac in prop::sample::select(vec![1u32, 2, 4]),
        icyc in 1u32..7,
        adc in 3u32..12,
        flip: bool,
        scale in 0u32..4,
        signed: bool,
        seed: u64,
    ) {
        let wb = (bpc * wmul * 2).clamp(2, 16);
        let wb = wb - wb % bpc;
        let ib = (dac * icyc).min(24);
        let ib = ib - ib % dac;
        let cfg = XbarConfig {
            rows,
            cols: 64,
            bits_per_cell: bpc,
            weight_bits: wb,
            input_bits: ib,
            dac_bits: dac,
            adc_bits: adc,
            flip,
            ..XbarConfig::isaac()
        };
        let mut s = seed | 1;
        let (b, k, n) = (1 + lcg(&mut s) as usize % 40, 1 + lcg(&mut s) as usize % 300, 1 + lcg(&mut s) as usize % 30);
        // Weights within +-2^(wb-1) >> scale: small ones keep the stored sums low.
        let half = (1i64 << (wb - 1)) >> scale;
        let w: Vec<i64> = (0..k * n).map(|_| lcg(&mut s) as i64 % (2 * half.max(1)) - half.max(1)).collect();
        let m = if signed { InputMode::Signed } else { InputMode::Unsigned };
        let x = inputs(&mut s, b * k, ib, m);
        let (linear, _) = agree(&cfg, &w, &x, (b, k, n), m);
        // The product applies exactly when the bound holds on every programmed column.
        let p = Programmed::new(&cfg, &w, k, n).unwrap();
        let max = (1u64 << adc) - 1;
        let dmax = (1u64 << dac) - 1;
        let mut fits = true;
        for i in 0..p.crossbars() {
            let (lv, cols) = p.levels(i);
            let rows_i = lv.len() / cols;
            if flip && dmax * rows_i as u64 > max {
                fits = false;
            }
            for c in 0..cols {
                let sum: u64 = (0..rows_i).map(|r| lv[r * cols + c] as u64).sum();
                if dmax * sum > max {
                    fits = false;
                }
            }
        }
        prop_assert_eq!(linear, fits);
    }
}

/// A weight outside the signed range is refused, the first one in row-major order named by row,
/// column and value, wherever in the matrix (here past the first block of the parallel scan).
#[test]
fn out_of_range_weight_is_named() {
    let (k, n) = (300, 400);
    let mut w = vec![5i64; k * n];
    w[201 * n + 7] = 40000;
    w[250 * n + 3] = -40000;
    let err = Programmed::new(&XbarConfig::isaac(), &w, k, n)
        .err()
        .expect("a 17-bit weight was accepted")
        .to_string();
    assert!(err.contains("weight [201, 7] = 40000"), "{err}");
    assert!(err.contains("-32768..=32767"), "{err}");
}

/// So is an input outside its range, the first one named, past the first block of the scan.
#[test]
fn out_of_range_input_is_named() {
    let (b, k, n) = (300, 300, 4);
    let p = Programmed::new(&XbarConfig::isaac(), &vec![3i64; k * n], k, n).unwrap();
    let mut x = vec![7i64; b * k];
    x[250 * k + 7] = 70000;
    x[260 * k] = -1;
    let err = p
        .run(&x, b, InputMode::Unsigned, None)
        .expect_err("a 17-bit input was accepted")
        .to_string();
    assert!(err.contains("input [250, 7] = 70000"), "{err}");
    assert!(err.contains("unsigned 16-bit range 0..=65535"), "{err}");
    x[250 * k + 7] = 7;
    assert!(p.run(&x, b, InputMode::Unsigned, None).is_err());
    x[260 * k] = 0;
    assert!(p.run(&x, b, InputMode::Unsigned, None).is_ok());
}
