//! `NESTEVO_SIMD` as the kernels' callers see it: an unknown value is a `KernelError` at
//! programming and at every product, naming the variable, its value and the allowed values; an
//! allowed one changes nothing in the results. One test in this binary, so nothing else runs
//! while it sets the variable.

mod common;

use common::{reference, signed16, unsigned16};
use nestevo_kernels::{InputMode, Programmed, XbarConfig};

/// A bad `NESTEVO_SIMD` is refused when programming and when multiplying; every allowed value
/// gives the exact product.
#[test]
fn unknown_simd_tier_is_refused() {
    let (b, k, n) = (5, 130, 12);
    let mut s = 3u64;
    let w = signed16(k * n, &mut s);
    let x = unsigned16(b * k, &mut s);
    std::env::remove_var("NESTEVO_SIMD");
    let p = Programmed::new(&XbarConfig::isaac(), &w, k, n).unwrap();

    std::env::set_var("NESTEVO_SIMD", "bogus");
    let check = |e: String| {
        assert!(e.contains("NESTEVO_SIMD"), "{e}");
        assert!(e.contains("\"bogus\""), "{e}");
        assert!(e.contains("auto, avx512, avx2, plain"), "{e}");
    };
    check(
        Programmed::new(&XbarConfig::isaac(), &w, k, n)
            .err()
            .unwrap()
            .to_string(),
    );
    check(
        p.run(&x, b, InputMode::Unsigned, None)
            .unwrap_err()
            .to_string(),
    );

    let exact = reference(&w, &x, b, k, n);
    for ok in ["plain", "avx2", "avx512", "auto", ""] {
        std::env::set_var("NESTEVO_SIMD", ok);
        let q = Programmed::new(&XbarConfig::isaac(), &w, k, n).unwrap();
        assert_eq!(
            q.run(&x, b, InputMode::Unsigned, None).unwrap().0,
            exact,
            "{ok}"
        );
    }
    std::env::remove_var("NESTEVO_SIMD");
}
