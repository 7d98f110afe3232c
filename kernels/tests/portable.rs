//! The portable and the AVX2 code of the kernels, on any machine that has them: this test binary
//! (one test, so nothing else runs while it switches) asks for each tier through `NESTEVO_SIMD`
//! (a tier the CPU lacks runs as the best one it has).

mod common;

use common::{signed16, unsigned16};
use nestevo_kernels::{InputMode, Programmed, ReadNoise, XbarConfig};

#[test]
fn portable_kernels_agree() {
    for tier in ["plain", "avx2"] {
        std::env::set_var("NESTEVO_SIMD", tier);
        common::compare_kernels();
    }

    // The analogue path adds conductances in one fixed order on every code path: with cell and
    // read noise, the portable and the vector code give the very same outputs.
    let (b, k, n) = (7, 260, 20);
    let mut s = 5u64;
    let w = signed16(k * n, &mut s);
    let x = unsigned16(b * k, &mut s);
    let p = Programmed::new(&XbarConfig::isaac(), &w, k, n)
        .unwrap()
        .program_conductances(0.02, 9)
        .unwrap();
    let read = Some(ReadNoise { mu: 0.01, seed: 4 });
    std::env::set_var("NESTEVO_SIMD", "plain");
    let plain = p.run(&x, b, InputMode::Unsigned, read).unwrap();
    std::env::set_var("NESTEVO_SIMD", "avx2");
    let avx2 = p.run(&x, b, InputMode::Unsigned, read).unwrap();
    std::env::remove_var("NESTEVO_SIMD");
    let best = p.run(&x, b, InputMode::Unsigned, read).unwrap();
    assert_eq!(plain, avx2);
    assert_eq!(plain, best);
    assert!(plain.1.crossbars > 0);
}
