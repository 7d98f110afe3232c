//! Quick checks of the kernels on their own: exact equality with the integer product.

mod common;

use common::{reference, signed16, unsigned16};
use nestevo_kernels::{InputMode, Programmed, XbarConfig};

#[test]
fn isaac_exact_and_analogue_match_integer_product() {
    let (b, k, n) = (5, 300, 37);
    let mut s = 7u64;
    let w = signed16(k * n, &mut s);
    for mode in [InputMode::Unsigned, InputMode::Signed] {
        let x = match mode {
            InputMode::Unsigned => unsigned16(b * k, &mut s),
            InputMode::Signed => signed16(b * k, &mut s),
        };
        let want = reference(&w, &x, b, k, n);
        let p = Programmed::new(&XbarConfig::isaac(), &w, k, n).unwrap();
        let (y, c) = p.run(&x, b, mode, None).unwrap();
        assert_eq!(y, want);
        assert_eq!(c.adc_saturations, 0);
        assert_eq!(c.crossbars, 3 * 3);
        let p = p.program_conductances(0.0, 1).unwrap();
        let (y2, c2) = p.run(&x, b, mode, None).unwrap();
        assert_eq!(y2, want);
        assert_eq!(c, c2);
    }
}

#[test]
fn bit_sliced_kernel_equals_popcount_kernel() {
    common::compare_kernels();
}

/// The analogue path (noiseless conductances) on crossbars of 3, 33 and 200 rows (row lists of
/// one byte, several bytes and several words, partial tiles at k = 300): the integer product.
#[test]
fn analogue_path_on_other_crossbar_heights() {
    let (b, k, n) = (3, 300, 21);
    let mut s = 11u64;
    let w = signed16(k * n, &mut s);
    let x = unsigned16(b * k, &mut s);
    let want = reference(&w, &x, b, k, n);
    for rows in [3, 33, 200] {
        let cfg = nestevo_kernels::XbarConfig {
            rows,
            adc_bits: 10,
            ..XbarConfig::isaac()
        };
        let p = Programmed::new(&cfg, &w, k, n).unwrap();
        let (y, c) = p.run(&x, b, InputMode::Unsigned, None).unwrap();
        assert_eq!(y, want, "rows {rows}, exact path");
        assert_eq!(c.adc_saturations, 0);
        let p = p.program_conductances(0.0, 1).unwrap();
        let (y2, c2) = p.run(&x, b, InputMode::Unsigned, None).unwrap();
        assert_eq!(y2, want, "rows {rows}, analogue path");
        assert_eq!(c, c2);
    }
}

/// 24-bit inputs put the analogue shift-and-add past f32's exact integers (192 * 2^23 per
/// column alone), so it must take its f64 accumulator: still the integer product.
#[test]
fn analogue_path_with_24_bit_inputs() {
    let (b, k, n) = (4, 300, 19);
    let mut s = 13u64;
    let w = signed16(k * n, &mut s);
    let x: Vec<i64> = (0..b * k)
        .map(|_| common::lcg(&mut s) as i64 & ((1 << 24) - 1))
        .collect();
    let want = reference(&w, &x, b, k, n);
    let cfg = nestevo_kernels::XbarConfig {
        input_bits: 24,
        ..XbarConfig::isaac()
    };
    let p = Programmed::new(&cfg, &w, k, n)
        .unwrap()
        .program_conductances(0.0, 1)
        .unwrap();
    let (y, c) = p.run(&x, b, InputMode::Unsigned, None).unwrap();
    assert_eq!(y, want);
    assert_eq!(c.adc_saturations, 0);
}
