//! The CLI's contract with users: help lists the command groups, bad input gives one clear
//! message and a non-zero exit, never a panic trace.

use std::process::Command;

fn nestevo(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_nestevo"))
        .args(args)
        .output()
        .expect("run nestevo");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn help_lists_every_command_group() {
    let (code, out, _) = nestevo(&["--help"]);
    assert_eq!(code, 0);
    for group in ["info", "cim", "data", "pretrain", "eval", "evolve", "bench"] {
        assert!(out.contains(group), "--help lacks `{group}`:\n{out}");
    }
}

#[test]
fn info_reports_versions_and_device() {
    let (code, out, err) = nestevo(&["info", "--json"]);
    assert_eq!(code, 0, "{err}");
    let v: serde_json::Value = serde_json::from_str(&out).expect("info --json is JSON");
    assert_eq!(v["nestevo"], env!("CARGO_PKG_VERSION"));
    let torch = v["libtorch"].as_str().unwrap();
    if cfg!(feature = "torch") {
        assert!(torch.starts_with("2.11.0"), "LibTorch version {torch}");
    } else {
        assert_eq!(torch, "built without torch");
    }
    assert!(
        v["device"].as_str().unwrap().starts_with("cpu") || v["cuda_devices"].as_u64() > Some(0)
    );
}

/// The binary opens LibTorch's CUDA library itself (`src/cuda.rs`): never with
/// `NESTEVO_CUDA=0`, and with `NESTEVO_CUDA=1` even on a machine without a driver, where the
/// run must go on on the CPU; any other value is refused, naming it and what is allowed.
#[cfg(feature = "torch")]
#[test]
fn cuda_library_follows_nestevo_cuda() {
    let info = |flag: &str| {
        let out = Command::new(env!("CARGO_BIN_EXE_nestevo"))
            .args(["info", "--json"])
            .env("NESTEVO_CUDA", flag)
            .output()
            .expect("run nestevo");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice::<serde_json::Value>(&out.stdout).expect("info --json is JSON")
    };
    let off = info("0");
    assert_eq!(off["cuda_library"], "not loaded (NESTEVO_CUDA=0)");
    assert_eq!(off["cuda_devices"], 0);
    let on = info("1");
    let dir = on["libtorch_path"].as_str().expect("libtorch path");
    let state = on["cuda_library"].as_str().unwrap();
    if std::path::Path::new(dir).join("libtorch_cuda.so").exists() {
        assert_eq!(state, "loaded");
    } else {
        assert!(state.starts_with("failed to load"), "{state}");
    }
    let out = Command::new(env!("CARGO_BIN_EXE_nestevo"))
        .args(["info"])
        .env("NESTEVO_CUDA", "yes")
        .output()
        .expect("run nestevo");
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains("NESTEVO_CUDA = \"yes\"") && err.contains("0 (never"),
        "{err}"
    );
}

#[test]
fn unknown_command_fails_cleanly() {
    let (code, _, err) = nestevo(&["frobnicate"]);
    assert_ne!(code, 0);
    assert!(err.contains("unrecognized subcommand"), "{err}");
    assert!(!err.contains("panicked"), "{err}");
}

#[test]
fn missing_arch_file_names_the_file() {
    let (code, _, err) = nestevo(&["cim", "arch", "--arch", "no/such/arch.toml"]);
    assert_eq!(code, 1);
    assert!(
        err.contains("no/such/arch.toml") && err.contains("cannot read"),
        "{err}"
    );
    assert!(!err.contains("panicked"), "{err}");
}

#[test]
fn bad_override_names_the_field_and_what_is_allowed() {
    let (code, _, err) = nestevo(&["cim", "arch", "--arch", "isaac", "--set", "adc.bits=40"]);
    assert_eq!(code, 1);
    assert!(
        err.contains("adc.bits") && err.contains("40") && err.contains("1..=16"),
        "{err}"
    );
    let (code, _, err) = nestevo(&["cim", "arch", "--set", "adc.bitz=4"]);
    assert_eq!(code, 1);
    assert!(err.contains("no such key") && err.contains("bits"), "{err}");
}

#[test]
fn presets_load_and_derive_their_figures() {
    let (code, out, err) = nestevo(&["cim", "arch", "--arch", "isaac"]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("largest column sum     192"), "{out}");
    assert!(out.contains("lossless ADC bits      8"), "{out}");
    let (code, out, _) = nestevo(&[
        "cim",
        "arch",
        "--arch",
        "isaac",
        "--set",
        "encoding.flip=false",
    ]);
    assert_eq!(code, 0);
    assert!(out.contains("lossless ADC bits      9"), "{out}");
}

/// A training command whose stderr is a log or a pipe (where the progress bar draws nothing)
/// still says where it is: one plain line per tenth of the steps.
#[cfg(feature = "torch")]
#[test]
fn training_into_a_log_prints_plain_progress_lines() {
    let dir = tempfile::tempdir().unwrap();
    let (code, _, err) = nestevo(&[
        "bench",
        "noise-finetune",
        "--checkpoint",
        "models/pretrained/M3.safetensors",
        "--mu",
        "0",
        "--steps",
        "20",
        "--batch",
        "2",
        "--out",
        dir.path().to_str().unwrap(),
        "--name",
        "p",
        "--threads",
        "1",
    ]);
    assert_eq!(code, 0, "{err}");
    let lines: Vec<&str> = err.lines().filter(|l| l.starts_with("p: step ")).collect();
    assert_eq!(lines.len(), 10, "{err}");
    assert!(lines[0].starts_with("p: step 2/20, loss "), "{err}");
    assert!(lines[9].starts_with("p: step 20/20, loss "), "{err}");
}
