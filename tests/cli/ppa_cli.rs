//! `nestevo cim report` end to end.

use std::process::Command;

fn report(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_nestevo"))
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .args(["cim", "report"])
        .args(args)
        .output()
        .unwrap()
}

#[test]
fn peak_json_has_the_agreed_keys() {
    let out = report(&["--arch", "isaac", "--json"]);
    assert!(out.status.success());
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    for (key, want) in [
        ("peak_tops", 41.29),
        ("gops_per_w", 627.5),
        ("power_w", 65.8),
        ("area_mm2", 85.4),
    ] {
        let got = v[key].as_f64().unwrap_or_else(|| panic!("no key {key}"));
        assert!(((got - want) / want).abs() < 1e-3, "{key} = {got}");
    }
    assert!(v["gops_per_mm2"].as_f64().is_some());
    let bits = report(&[
        "--arch",
        "isaac",
        "--set",
        "crossbar.bits_per_cell=4",
        "--json",
    ]);
    let b: serde_json::Value = serde_json::from_slice(&bits.stdout).unwrap();
    assert!(
        (b["peak_tops"].as_f64().unwrap() / v["peak_tops"].as_f64().unwrap() - 2.0).abs() < 1e-9
    );
}

#[test]
fn model_report_table_and_json() {
    let out = report(&[
        "--arch",
        "isaac",
        "--model",
        "models/resnet18.toml",
        "--frames",
        "10",
    ]);
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(
        text.contains("l4b1_conv2") && text.contains("frames/s") && text.contains("bottleneck")
    );
    let out = report(&["--model", "models/resnet18.toml", "--json"]);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["layers"].as_array().unwrap().len(), 21);
    assert!(v["timing"]["frames_per_s"].as_f64().unwrap() > 0.0);
    assert!(v["peak"]["peak_tops"].as_f64().is_some());
}

#[test]
fn bad_inputs_give_clear_errors() {
    let out = report(&["--model", "models/nope.toml"]);
    assert!(!out.status.success());
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(
        err.contains("models/nope.toml") && !err.contains("panicked"),
        "{err}"
    );
    let out = report(&["--set", "ima.adcs=0"]);
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(!out.status.success() && err.contains("ima.adcs"), "{err}");
    let out = report(&["--frames", "0"]);
    assert!(!out.status.success());
}
