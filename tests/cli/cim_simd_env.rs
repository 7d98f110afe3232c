//! `nestevo cim mvm` under a bad `NESTEVO_SIMD`: one line on stderr naming the variable, its
//! value and the allowed values, and a failing exit status.

use ndarray::Array2;
use ndarray_npy::write_npy;
use std::process::Command;

/// An unknown SIMD tier stops the command with one clear line; a known one runs.
#[test]
fn mvm_refuses_an_unknown_simd_tier() {
    let d = tempfile::tempdir().unwrap();
    write_npy(d.path().join("w.npy"), &Array2::<i64>::ones((10, 4))).unwrap();
    write_npy(d.path().join("x.npy"), &Array2::<i64>::ones((2, 10))).unwrap();
    let run = |simd: &str| {
        let f = |n: &str| d.path().join(n).display().to_string();
        Command::new(env!("CARGO_BIN_EXE_nestevo"))
            .args([
                "cim",
                "mvm",
                "--weights",
                &f("w.npy"),
                "--inputs",
                &f("x.npy"),
            ])
            .args(["--out", &f("y.npy")])
            .env("NESTEVO_SIMD", simd)
            .output()
            .unwrap()
    };
    let o = run("sse9");
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(!o.status.success());
    assert_eq!(err.trim_end().lines().count(), 1, "{err}");
    for part in ["NESTEVO_SIMD", "\"sse9\"", "auto, avx512, avx2, plain"] {
        assert!(err.contains(part), "{err}");
    }
    let o = run("plain");
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
}
