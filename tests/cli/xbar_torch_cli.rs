//! `nestevo cim run --backend torch` runs the LibTorch crossbar engine end to end.
#![cfg(feature = "torch")]

use crate::support::random_tensors;

/// `nestevo cim run --backend torch` end to end (a random-weight terminal checkpoint, one
/// frame): the report names the engine (and a variant) and its counts equal `--backend cpu`'s.
#[test]
fn cim_run_takes_the_torch_backend() {
    let dir = tempfile::tempdir().unwrap();
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/models/terminal.toml");
    let desc = nestevo_model::load_model(std::path::Path::new(path)).unwrap();
    let w = dir.path().join("terminal.safetensors");
    random_tensors(&desc, 6).write(&w).unwrap();
    std::fs::copy(path, dir.path().join("terminal.toml")).unwrap();
    let run = |backend: &str| -> serde_json::Value {
        let o = std::process::Command::new(env!("CARGO_BIN_EXE_nestevo"))
            .args(["cim", "run", "--checkpoint"])
            .arg(&w)
            .args(["--frames", "1", "--calib-frames", "1", "--json"])
            .args(["--backend", backend])
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        serde_json::from_slice(&o.stdout).unwrap()
    };
    let c = run("cpu");
    assert_eq!(c["backend"].as_str(), Some("cpu"));
    for backend in ["torch", "torch:epilogue"] {
        let t = run(backend);
        assert_eq!(t["backend"].as_str(), Some(backend));
        assert_eq!(c["total"], t["total"], "{backend}");
        assert_eq!(c["max_abs_diff"], t["max_abs_diff"], "{backend}");
    }
}
