//! Typed errors at the module boundaries: each says whether it is bad input or a fault, and bad
//! input names the file or field, the value and what is allowed; every command answers bad
//! input with one line on stderr (no panic, no C++ backtrace).

use nestevo_arch::{apply_overrides, load_arch, preset};
use nestevo_cim::{CimError, CimMatrix, NoiseSpec};
use nestevo_core::error::{ErrorKind, Kinded};
use nestevo_couple::load_checkpoint;
use nestevo_data::{read_png, DataError, StreamId};
use nestevo_eval::{read_coco_results, HeldOut};
use nestevo_model::parse_model;
use std::path::Path;
use std::process::Command;

fn bad<E: Kinded + std::fmt::Display>(e: E, needles: &[&str]) {
    let m = e.to_string();
    assert_eq!(e.kind(), ErrorKind::BadInput, "{m}");
    for n in needles {
        assert!(m.contains(n), "`{n}` missing from: {m}");
    }
}

/// ArchError: the file, the field, the value and the allowed range.
#[test]
fn arch_errors_are_bad_input() {
    let spec = preset("isaac").unwrap();
    let e = apply_overrides(&spec, &["adc.bits=99".into()], "isaac").unwrap_err();
    bad(e, &["isaac", "adc.bits", "99"]);
    bad(
        load_arch(Path::new("/nonexistent/a.toml")).unwrap_err(),
        &["a.toml"],
    );
}

/// ModelError: the file, the layer and the field.
#[test]
fn model_errors_are_bad_input() {
    let e = parse_model(
        "name = \"m\"\ninput = [3, 8, 8]\n[[layers]]\nname = \"c\"\nop = \"conv\"\nout_channels = 0\nkernel = 3\n",
        "m.toml",
    )
    .unwrap_err();
    bad(e, &["m.toml", "`c`", "out_channels"]);
}

/// CimError: shapes that do not fit are bad input; a broken invariant is a fault.
#[test]
fn cim_errors_say_their_kind() {
    let spec = preset("isaac").unwrap();
    let w = ndarray::Array2::<i64>::zeros((4, 2));
    let m = CimMatrix::program(&spec, w.view(), &NoiseSpec::default()).unwrap();
    let x = ndarray::Array2::<i64>::zeros((1, 3));
    bad(m.mvm(x.view(), false).unwrap_err(), &["3 columns", "K = 4"]);
    let n = NoiseSpec {
        mu: 2.0,
        ..Default::default()
    };
    bad(
        CimMatrix::program(&spec, w.view(), &n).err().unwrap(),
        &["mu", "2", "0 <= mu <= 1"],
    );
    assert_eq!(CimError::Internal("x".into()).kind(), ErrorKind::Fault);
}

/// DataError: a corrupt PNG and an unknown stream name.
#[test]
fn data_errors_are_bad_input() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("f.png");
    std::fs::write(&p, b"\x89PNG\r\n\x1a\nnot really").unwrap();
    bad(read_png(&p).unwrap_err(), &["f.png", "not a readable PNG"]);
    let e: DataError = "Z".parse::<StreamId>().unwrap_err();
    bad(e, &["`Z`", "allowed are source, A, B, C, D, E"]);
    // A missing file is the caller's to correct too.
    bad(
        read_png(&dir.path().join("none.png")).unwrap_err(),
        &["none.png"],
    );
}

/// EvalError: a bad results file and a held-out seed in the trainer's range.
#[test]
fn eval_errors_are_bad_input() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("r.json");
    std::fs::write(&p, "[1, 2]").unwrap();
    bad(
        read_coco_results(&p).unwrap_err(),
        &["r.json", "COCO results"],
    );
    let e = HeldOut::new(StreamId::D, 4).with_seed(1 << 33).unwrap_err();
    bad(e, &["seed", "8589934592", "below 2^32"]);
}

/// CoupleError: a checkpoint without its description names both files.
#[test]
fn couple_errors_are_bad_input() {
    let dir = tempfile::tempdir().unwrap();
    let w = dir.path().join("net.safetensors");
    std::fs::write(&w, b"").unwrap();
    bad(
        load_checkpoint(&w, None).unwrap_err(),
        &["net.safetensors", "net.toml", "missing"],
    );
}

/// The held-out rule spreads frames 2 s apart over the stream (frame 60k at 30 fps, 20k at 10 fps).
#[test]
fn held_out_frames_are_spread_over_the_stream() {
    assert_eq!(HeldOut::new(StreamId::A, 4).indices(), [0, 60, 120, 180]);
    assert_eq!(HeldOut::new(StreamId::C, 3).indices(), [0, 20, 40]);
    let set = HeldOut::new(StreamId::D, 3);
    let cal = set.calibration(2);
    assert_eq!(
        (cal.seed, cal.frames),
        (set.seed + 1, 2),
        "calibration never scores"
    );
    let f = set.render(32, 32).unwrap();
    assert_eq!(f.iter().map(|f| f.index).collect::<Vec<_>>(), [0, 60, 120]);
    assert!(f[2].time_s == 4.0, "{}", f[2].time_s);
}

fn nestevo(args: &[&str]) -> (bool, String) {
    let o = Command::new(env!("CARGO_BIN_EXE_nestevo"))
        .args(args)
        .output()
        .unwrap();
    (
        o.status.success(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

/// One line on stderr, starting `error:`, holding every needle (the argument parser may add
/// its one-line pointer to `--help`).
fn one_clear_line(args: &[&str], needles: &[&str]) {
    let (ok, e) = nestevo(args);
    assert!(!ok, "{args:?} succeeded");
    let lines: Vec<&str> = e
        .lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with("For more information, try '--help'"))
        .collect();
    assert_eq!(lines.len(), 1, "{args:?}: not one line:\n{e}");
    assert!(lines[0].starts_with("error: "), "{e}");
    assert!(!e.contains("panicked") && !e.contains("frame #"), "{e}");
    for n in needles {
        assert!(e.contains(n), "{args:?}: `{n}` missing from: {e}");
    }
}

/// Every simulator and data command answers bad input with one clear line.
#[test]
fn commands_answer_bad_input_in_one_line() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().to_str().unwrap();
    one_clear_line(
        &["cim", "arch", "--set", "adc.bits=99"],
        &["adc.bits", "99"],
    );
    let bad_npy = format!("{d}/w.npy");
    std::fs::write(&bad_npy, b"nonsense").unwrap();
    one_clear_line(
        &[
            "cim",
            "mvm",
            "--weights",
            &bad_npy,
            "--inputs",
            &bad_npy,
            "--out",
            &format!("{d}/y.npy"),
        ],
        &["w.npy", "not a 2-D integer .npy"],
    );
    let m = format!("{d}/m.toml");
    std::fs::write(
        &m,
        "name = \"m\"\ninput = [3, 8, 8]\n[[layers]]\nname = \"l\"\nop = \"warp\"\n",
    )
    .unwrap();
    one_clear_line(&["cim", "report", "--model", &m], &["m.toml", "warp"]);
    one_clear_line(
        &[
            "cim",
            "run",
            "--checkpoint",
            &format!("{d}/none.safetensors"),
        ],
        &["none.safetensors", "no such file"],
    );
    one_clear_line(
        &[
            "cim",
            "run",
            "--checkpoint",
            &format!("{d}/none.safetensors"),
            "--seed",
            "9999999999",
        ],
        &["seed", "9999999999"],
    );
    one_clear_line(
        &[
            "data", "render", "--stream", "A", "--frames", "1", "--size", "3", "--out", d,
        ],
        &["--size 3", "16 to 4096"],
    );
    one_clear_line(&["data", "speed", "--size", "5"], &["--size 5"]);
    one_clear_line(
        &[
            "data",
            "sheet",
            "--stream",
            "Q",
            "--out",
            &format!("{d}/s.png"),
        ],
        &["Q", "allowed are source"],
    );
    one_clear_line(
        &[
            "cim",
            "mvm",
            "--weights",
            &bad_npy,
            "--inputs",
            &bad_npy,
            "--out",
            "y.npy",
            "--noise",
            "wavy",
        ],
        &["wavy", "none, weight, cell"],
    );
    // A comparison's shard and its scoring seeds.
    one_clear_line(
        &[
            "evolve", "compare", "--preset", "smoke", "--shard", "2/2", "--out", d,
        ],
        &["--shard", "2/2", "I/N"],
    );
    // The comparison itself needs LibTorch.
    if cfg!(feature = "torch") {
        one_clear_line(
            &[
                "evolve",
                "compare",
                "--preset",
                "demo",
                "--set",
                "terminals.0.stream_seed=901",
                "--out",
                d,
            ],
            &["terminals[0].stream_seed", "901", "tuning_seeds"],
        );
        // A sweep's list values split at the commas outside brackets, and every value is
        // checked before any run starts.
        one_clear_line(
            &[
                "evolve",
                "sweep",
                "--preset",
                "smoke",
                "--sweep",
                "global.class_min_scores=[],[0.3, 0.4]",
                "--replicates",
                "1",
                "--out",
                d,
            ],
            &["global.class_min_scores", "[0.3, 0.4]", "one per class"],
        );
        // Threshold candidates must be scores.
        one_clear_line(
            &[
                "evolve",
                "thresholds",
                "--preset",
                "smoke",
                "--grid",
                "0.3,1.5",
                "--out",
                d,
            ],
            &["--grid", "1.5", "(0, 1)"],
        );
    }
}

/// Bad values that once ran (a NaN window spinning forever, a frame count that panicked, a grid
/// key that made every row invalid, an experiment naming a missing file) are refused up front.
#[test]
fn bad_values_are_refused_before_anything_runs() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().to_str().unwrap();
    for (set, says) in [
        (
            "global.model=models/pretrained/nope.safetensors",
            ["global.model", "nope.safetensors", "no such file"],
        ),
        (
            "drift.layer=nosuchlayer",
            ["drift.layer", "nosuchlayer", "a layer of the global model"],
        ),
    ] {
        one_clear_line(
            &["evolve", "check", "--preset", "smoke", "--set", set],
            &says,
        );
    }
    one_clear_line(
        &[
            "sched",
            "simulate",
            "--window-s",
            "NaN",
            "--terminals",
            "2",
            "--evolutions",
            "1",
        ],
        &["--window-s", "NaN", "finite"],
    );
    one_clear_line(
        &[
            "cim",
            "run",
            "--checkpoint",
            "models/pretrained/M3.safetensors",
            "--stream",
            "A",
            "--frames",
            "18446744073709551615",
        ],
        &["frames", "18446744073709551615", "at most 100000"],
    );
    let out = format!("{d}/sweep.csv");
    one_clear_line(
        &[
            "sweep",
            "--grid",
            "adc.bitz=6..8",
            "--model",
            "models/resnet18.toml",
            "--out",
            &out,
        ],
        &["adc.bitz", "no such key"],
    );
    assert!(!Path::new(&out).exists(), "nothing written");
    if cfg!(feature = "torch") {
        one_clear_line(
            &[
                "evolve",
                "train-stats",
                "--model",
                "models/pretrained/M3.safetensors",
                "--min-score",
                "5",
            ],
            &["--min-score 5", "(0, 1)"],
        );
        // A folder of frames without labels has nothing to score.
        let frames = format!("{d}/frames");
        let (ok, e) = nestevo(&[
            "data", "render", "--stream", "A", "--frames", "2", "--out", &frames,
        ]);
        assert!(ok, "{e}");
        std::fs::remove_file(format!("{frames}/annotations.json")).unwrap();
        one_clear_line(
            &[
                "eval",
                "--checkpoint",
                "models/pretrained/M3.safetensors",
                "--frames-dir",
                &frames,
                "--threads",
                "1",
                "--cpu",
            ],
            &["--frames-dir", "annotations.json", "--predictions-out"],
        );
    }
}

/// With LibTorch: a checkpoint of another model is refused by tensor name before LibTorch reads
/// it (no C++ backtrace), and LibTorch's own failures are faults without their backtrace.
#[cfg(feature = "torch")]
mod torch_side {
    use super::*;
    use nestevo_model::load_model;
    use nestevo_train::{checkpoint, detector::Detector, TrainError};

    #[test]
    fn a_wrong_checkpoint_is_refused_by_tensor_name() {
        let dir = tempfile::tempdir().unwrap();
        let desc = load_model(Path::new("models/terminal.toml")).unwrap();
        let model = Detector::new(&desc, 4, tch::Device::Cpu).unwrap();
        let w = checkpoint::save(&model, dir.path(), &Default::default()).unwrap();
        // The same weights under a narrower description (as M2's weights under M1's name).
        let narrow = nestevo_train::pretrain::scale_width(&desc, 0.5);
        std::fs::write(w.with_extension("toml"), narrow.to_toml()).unwrap();
        let e = checkpoint::load(&w, tch::Device::Cpu).err().unwrap();
        bad(e, &["terminal.safetensors", "has shape", "expects"]);
        one_clear_line(
            &[
                "eval",
                "--checkpoint",
                w.to_str().unwrap(),
                "--stream",
                "A",
                "--frames",
                "2",
            ],
            &["terminal.safetensors", "has shape"],
        );
    }

    #[test]
    fn an_unknown_noise_site_is_refused() {
        one_clear_line(
            &[
                "bench",
                "noise-finetune",
                "--checkpoint",
                "models/pretrained/global.safetensors",
                "--mu",
                "0.02",
                "--site",
                "cells",
                "--out",
                "/nonexistent",
                "--name",
                "x",
            ],
            &["--site cells", "allowed folded, cell, raw"],
        );
    }

    #[test]
    fn libtorch_failures_are_faults_without_backtraces() {
        let a = tch::Tensor::zeros([2, 3], (tch::Kind::Float, tch::Device::Cpu));
        let e: TrainError = a.f_matmul(&a).unwrap_err().into();
        assert_eq!(e.kind(), ErrorKind::Fault);
        let m = e.to_string();
        assert!(!m.contains("frame #") && !m.contains('\n'), "{m}");
        assert!(m.contains("LibTorch"), "{m}");
    }
}

/// A .npy of int32 with `shape`, zeros, written by hand (format 1.0).
fn int32_npy(path: &str, shape: &[usize]) {
    let dims: Vec<String> = shape.iter().map(|d| d.to_string()).collect();
    let mut h = format!(
        "{{'descr': '<i4', 'fortran_order': False, 'shape': ({},), }}",
        dims.join(", ")
    );
    while (10 + h.len() + 1) % 64 != 0 {
        h.push(' ');
    }
    h.push('\n');
    let mut b = b"\x93NUMPY\x01\x00".to_vec();
    b.extend((h.len() as u16).to_le_bytes());
    b.extend(h.as_bytes());
    b.extend(vec![0u8; 4 * shape.iter().product::<usize>()]);
    std::fs::write(path, b).unwrap();
}

/// A negative value reaches its flag (`--mu -1` as `--mu=-1`) and meets that flag's check; an
/// output file in a folder that does not exist is refused before any work; a .npy of the wrong
/// rank is described; a device-sweep value the law refuses is named by its flag.
#[test]
fn values_and_outputs_are_checked_before_work() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().to_str().unwrap();
    let (w, x, w3) = (
        format!("{d}/w.npy"),
        format!("{d}/x.npy"),
        format!("{d}/w3.npy"),
    );
    int32_npy(&w, &[4, 3]);
    int32_npy(&x, &[2, 4]);
    int32_npy(&w3, &[2, 3, 4]);
    let mvm = |extra: &[&str], out: &str, needles: &[&str]| {
        let mut args = vec!["cim", "mvm", "--weights", &w, "--inputs", &x, "--out", out];
        args.extend(extra);
        one_clear_line(&args, needles);
    };
    let out = format!("{d}/y.npy");
    mvm(
        &["--noise", "cell", "--mu", "-1"],
        &out,
        &["mu", "-1", "0 <= mu <= 1"],
    );
    let missing = format!("{d}/no/such/y.npy");
    mvm(&[], &missing, &["--out", "no/such", "does not exist"]);
    assert!(!Path::new(&missing).exists());
    one_clear_line(
        &[
            "cim",
            "mvm",
            "--weights",
            &w3,
            "--inputs",
            &x,
            "--out",
            &out,
        ],
        &["w3.npy", "3-D array of int32", "[2, 3, 4]", "allowed"],
    );
    let sweep = |flag: &str, value: &str, needles: &[&str]| {
        one_clear_line(
            &[
                "bench",
                "device-sweep",
                "--checkpoint",
                &format!("{d}/none.safetensors"),
                flag,
                value,
                "--out",
                &format!("{d}/s.csv"),
            ],
            needles,
        )
    };
    sweep("--times", "-1", &["--times -1", "time_s", "a number >= 0"]);
    sweep("--rates", "2", &["--rates 2", "off_rate", "from 0 to 1"]);
    sweep("--drift", "t0_s=0", &["--drift t0_s=0", "a number > 0"]);
    assert!(!Path::new(&format!("{d}/s.csv")).exists());
}
