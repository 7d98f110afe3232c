//! `nestevo cim mvm` end to end: .npy in, int64 .npy out, statistics as JSON, clear refusals.

use ndarray::Array2;
use ndarray_npy::{read_npy, write_npy};
use std::path::Path;
use std::process::Command;

fn nestevo(args: &[&str]) -> (bool, String, String) {
    let o = Command::new(env!("CARGO_BIN_EXE_nestevo"))
        .args(args)
        .output()
        .unwrap();
    (
        o.status.success(),
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

fn p(d: &Path, f: &str) -> String {
    d.join(f).display().to_string()
}

#[test]
fn mvm_writes_the_integer_product() {
    let d = tempfile::tempdir().unwrap();
    let w = Array2::from_shape_fn((200, 20), |(r, c)| {
        ((r * 37 + c * 101) % 65536) as i64 - 32768
    });
    let x = Array2::from_shape_fn((3, 200), |(v, r)| ((v * 7919 + r * 104729) % 65536) as i32);
    write_npy(d.path().join("w.npy"), &w).unwrap();
    write_npy(d.path().join("x.npy"), &x).unwrap();
    let (ok, out, err) = nestevo(&[
        "cim",
        "mvm",
        "--arch",
        "isaac",
        "--weights",
        &p(d.path(), "w.npy"),
        "--inputs",
        &p(d.path(), "x.npy"),
        "--out",
        &p(d.path(), "y.npy"),
        "--json",
    ]);
    assert!(ok, "{err}");
    let y: Array2<i64> = read_npy(d.path().join("y.npy")).unwrap();
    assert_eq!(y, x.mapv(|v| v as i64).dot(&w));
    let j: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(j["stats"]["crossbars"], 2 * 2);
    assert_eq!(j["stats"]["adc_saturations"], 0);
    assert_eq!(j["stats"]["macs"], 3 * 200 * 20);
    // A narrower ADC saturates, and says so.
    let (ok, out, _) = nestevo(&[
        "cim",
        "mvm",
        "--set",
        "adc.bits=4",
        "--weights",
        &p(d.path(), "w.npy"),
        "--inputs",
        &p(d.path(), "x.npy"),
        "--out",
        &p(d.path(), "y4.npy"),
        "--json",
    ]);
    assert!(ok);
    let j: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert!(j["stats"]["adc_saturations"].as_u64().unwrap() > 0);
    assert!(j["adc_saturation_rate"].as_f64().unwrap() > 0.0);
}

#[test]
fn mvm_refuses_bad_input_clearly() {
    let d = tempfile::tempdir().unwrap();
    write_npy(d.path().join("w.npy"), &Array2::<i64>::zeros((10, 4))).unwrap();
    write_npy(d.path().join("x9.npy"), &Array2::<i64>::zeros((2, 9))).unwrap();
    write_npy(
        d.path().join("xneg.npy"),
        &Array2::<i64>::from_elem((2, 10), -3),
    )
    .unwrap();
    write_npy(d.path().join("xf.npy"), &Array2::<f32>::zeros((2, 10))).unwrap();
    write_npy(
        d.path().join("wbig.npy"),
        &Array2::<i64>::from_elem((10, 4), 1 << 20),
    )
    .unwrap();
    let run = |w: &str, x: &str, extra: &[&str]| {
        let (wp, xp, yp) = (p(d.path(), w), p(d.path(), x), p(d.path(), "y.npy"));
        let mut a = vec![
            "cim",
            "mvm",
            "--weights",
            &wp,
            "--inputs",
            &xp,
            "--out",
            &yp,
        ];
        a.extend_from_slice(extra);
        let (ok, _, err) = nestevo(&a);
        assert!(!ok);
        assert!(!err.contains("panicked"), "{err}");
        err
    };
    let e = run("w.npy", "x9.npy", &[]);
    assert!(e.contains("x9.npy") && e.contains("K = 10"), "{e}");
    let e = run("w.npy", "xneg.npy", &[]);
    assert!(
        e.contains("xneg.npy") && e.contains("-3") && e.contains("unsigned"),
        "{e}"
    );
    // Signed inputs accept the same file.
    let (wp, xp, yp) = (
        p(d.path(), "w.npy"),
        p(d.path(), "xneg.npy"),
        p(d.path(), "y.npy"),
    );
    assert!(
        nestevo(&[
            "cim",
            "mvm",
            "--weights",
            &wp,
            "--inputs",
            &xp,
            "--out",
            &yp,
            "--signed-inputs"
        ])
        .0
    );
    let e = run("w.npy", "xf.npy", &[]);
    assert!(e.contains("xf.npy") && e.contains("integer"), "{e}");
    write_npy(d.path().join("x10.npy"), &Array2::<i64>::zeros((2, 10))).unwrap();
    let e = run("wbig.npy", "x10.npy", &[]);
    assert!(
        e.contains("wbig.npy") && e.contains("1048576") && e.contains("-32768..=32767"),
        "{e}"
    );
    let e = run("missing.npy", "x9.npy", &[]);
    assert!(e.contains("missing.npy"), "{e}");
    let e = run("w.npy", "x9.npy", &["--set", "adc.bitz=3"]);
    assert!(e.contains("adc.bitz") && e.contains("no such key"), "{e}");
}
