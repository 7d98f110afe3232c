//! `--backend cpu|torch[:VARIANT]` on `nestevo cim mvm`: the torch engine writes the kernels'
//! product and counts with each of its variants; a build without LibTorch refuses `torch` with
//! one clear message, and an unknown or combined variant is refused naming what is allowed.

use ndarray::Array2;
#[cfg(feature = "torch")]
use ndarray_npy::read_npy;
use ndarray_npy::write_npy;
use std::process::Command;

/// Runs `cim mvm` on the same files with `backend`; (success, stdout, stderr).
fn mvm(d: &std::path::Path, backend: &str, out: &str) -> (bool, String, String) {
    let o = Command::new(env!("CARGO_BIN_EXE_nestevo"))
        .args([
            "cim", "mvm", "--arch", "isaac", "--noise", "cell", "--mu", "0.0",
        ])
        .arg("--weights")
        .arg(d.join("w.npy"))
        .arg("--inputs")
        .arg(d.join("x.npy"))
        .arg("--out")
        .arg(d.join(out))
        .args(["--backend", backend, "--json"])
        .output()
        .unwrap();
    (
        o.status.success(),
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

fn files() -> tempfile::TempDir {
    let d = tempfile::tempdir().unwrap();
    let w = Array2::from_shape_fn((300, 40), |(r, c)| {
        ((r * 37 + c * 101) % 65536) as i64 - 32768
    });
    let x = Array2::from_shape_fn((5, 300), |(v, r)| ((v * 7919 + r * 104729) % 65536) as i64);
    write_npy(d.path().join("w.npy"), &w).unwrap();
    write_npy(d.path().join("x.npy"), &x).unwrap();
    d
}

/// Both engines, the analogue path without noise: the same int64 file and the same counts,
/// for the torch engine's default path and each of its variants.
#[cfg(feature = "torch")]
#[test]
fn torch_backend_writes_the_kernels_product() {
    let d = files();
    let (ok, cpu, err) = mvm(d.path(), "cpu", "yc.npy");
    assert!(ok, "{err}");
    let yc: Array2<i64> = read_npy(d.path().join("yc.npy")).unwrap();
    let jc: serde_json::Value = serde_json::from_str(&cpu).unwrap();
    assert_eq!(jc["backend"].as_str(), Some("cpu"));
    for backend in ["torch", "torch:bf16", "torch:epilogue", "torch:f16"] {
        let (ok, tor, err) = mvm(d.path(), backend, "yt.npy");
        assert!(ok, "{backend}: {err}");
        let yt: Array2<i64> = read_npy(d.path().join("yt.npy")).unwrap();
        assert_eq!(yc, yt, "{backend}");
        let jt: serde_json::Value = serde_json::from_str(&tor).unwrap();
        assert_eq!(jc["stats"], jt["stats"], "{backend}");
        assert_eq!(jt["backend"].as_str(), Some(backend));
    }
}

/// An unknown variant, or two at once, fails naming the flag, the value and what is allowed.
#[test]
fn unknown_backend_option_is_refused() {
    let d = files();
    for bad in ["torch:fp8", "torch:bf16,epilogue"] {
        let (ok, _, err) = mvm(d.path(), bad, "y.npy");
        assert!(!ok, "{bad}");
        assert!(
            err.contains("backend") && err.contains(bad) && err.contains("bf16"),
            "{err}"
        );
        assert!(!d.path().join("y.npy").exists());
    }
}

/// Without LibTorch, `--backend torch` fails naming the missing feature and the way out.
#[cfg(not(feature = "torch"))]
#[test]
fn torch_backend_is_refused_without_libtorch() {
    let d = files();
    let (ok, _, err) = mvm(d.path(), "torch", "y.npy");
    assert!(!ok);
    assert!(
        err.contains("no LibTorch") && err.contains("--backend cpu"),
        "{err}"
    );
    assert!(!d.path().join("y.npy").exists());
}
