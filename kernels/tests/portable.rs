//! The portable (non-AVX-512) code of both noiseless kernels, on any machine: this test binary
//! asks for the plain path before the kernels first look at the CPU.

mod common;

#[test]
fn portable_kernels_agree() {
    std::env::set_var("NESTEVO_SIMD", "plain");
    common::compare_kernels();
}
