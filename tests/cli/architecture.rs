//! The arrows of docs/architecture.md, checked on the crates' manifests (Cargo enforces every
//! arrow; this says which arrows may exist): the simulator never reaches LibTorch, data, the
//! trainer, coupling, evolution, the scheduler, the service, the experiments or the command
//! line; no library crate depends on the experiments or on `clap`; `evolve` knows no transport.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

const ROOT: &str = env!("CARGO_MANIFEST_DIR");

/// Every workspace crate by its short name (`nestevo-cim` -> `cim`, `nestevo` -> `nestevo`)
/// with the names of its normal dependencies (optional ones included: they are arrows too).
fn manifests() -> BTreeMap<String, BTreeSet<String>> {
    let mut dirs = vec![Path::new(ROOT).join("kernels")];
    for e in std::fs::read_dir(Path::new(ROOT).join("crates")).unwrap() {
        dirs.push(e.unwrap().path());
    }
    let mut out = BTreeMap::new();
    for d in dirs {
        let text = std::fs::read_to_string(d.join("Cargo.toml")).unwrap();
        let t: toml::Table = toml::from_str(&text).unwrap();
        let name = t["package"]["name"].as_str().unwrap().to_string();
        let deps = t
            .get("dependencies")
            .and_then(|d| d.as_table())
            .map(|d| d.keys().map(|k| short(k)).collect())
            .unwrap_or_default();
        out.insert(short(&name), deps);
    }
    out
}

fn short(name: &str) -> String {
    name.strip_prefix("nestevo-").unwrap_or(name).to_string()
}

/// Everything `name` reaches through normal dependencies inside the workspace, external
/// crates named as they are (`tch`, `clap`).
fn reach(g: &BTreeMap<String, BTreeSet<String>>, name: &str) -> BTreeSet<String> {
    let mut seen = BTreeSet::new();
    let mut todo = vec![name.to_string()];
    while let Some(n) = todo.pop() {
        for d in g.get(&n).into_iter().flatten() {
            if seen.insert(d.clone()) {
                todo.push(d.clone());
            }
        }
    }
    seen
}

fn refuse(g: &BTreeMap<String, BTreeSet<String>>, crates: &[&str], forbidden: &[&str]) {
    let mut bad = Vec::new();
    for c in crates {
        assert!(g.contains_key(*c), "no crate {c} in {:?}", g.keys());
        let r = reach(g, c);
        for f in forbidden {
            if r.contains(*f) {
                bad.push(format!("{c} reaches {f}"));
            }
        }
    }
    assert!(
        bad.is_empty(),
        "arrows pointing the wrong way:\n{}",
        bad.join("\n")
    );
}

const ABOVE_THE_SIMULATOR: [&str; 11] = [
    "tch",
    "data",
    "eval",
    "train",
    "xbar-torch",
    "couple",
    "evolve",
    "sched",
    "serve",
    "experiments",
    "clap",
];

/// The simulator (device, arch, model, cim, ppa, sweep) reaches nothing above it, LibTorch
/// included.
#[test]
fn the_simulator_reaches_nothing_above_it() {
    let g = manifests();
    refuse(
        &g,
        &["device", "arch", "model", "cim", "ppa", "sweep"],
        &ABOVE_THE_SIMULATOR,
    );
    // ppa predicts what cim counts without using it.
    refuse(&g, &["ppa"], &["cim"]);
}

/// Data, metrics, coupling and the scheduler's planning never link LibTorch.
#[test]
fn data_eval_coupling_and_scheduling_need_no_libtorch() {
    let g = manifests();
    refuse(
        &g,
        &["data", "eval", "couple", "sched"],
        &[
            "tch",
            "train",
            "xbar-torch",
            "evolve",
            "serve",
            "experiments",
            "clap",
        ],
    );
}

/// The device laws depend on nothing of the project, and the kernels on nothing but them (they
/// program conductances through the laws).
#[test]
fn the_kernels_crate_stands_alone() {
    let g = manifests();
    let ours = |c: &str| -> Vec<String> {
        reach(&g, c)
            .into_iter()
            .filter(|d| g.contains_key(d))
            .collect()
    };
    assert!(
        ours("device").is_empty(),
        "device depends on {:?}",
        ours("device")
    );
    assert_eq!(
        ours("kernels"),
        ["device"],
        "kernels depends on {:?}",
        ours("kernels")
    );
}

/// No library crate depends on the experiments or on the command-line parser.
#[test]
fn no_library_crate_reaches_the_experiments_or_the_cli() {
    let g = manifests();
    let libs: Vec<&str> = g
        .keys()
        .map(String::as_str)
        .filter(|c| *c != "experiments")
        .collect();
    refuse(&g, &libs, &["experiments", "clap", "anyhow"]);
    refuse(&g, &["experiments"], &["clap", "anyhow"]);
}

/// The LibTorch crossbar engine sits beside the simulator: it reaches only the kernels and cim.
#[test]
fn the_torch_engine_stays_beside_the_simulator() {
    let g = manifests();
    refuse(
        &g,
        &["xbar-torch"],
        &[
            "data",
            "eval",
            "train",
            "couple",
            "evolve",
            "sched",
            "serve",
            "experiments",
        ],
    );
}

/// The evolution loop knows no transport: `evolve` never reaches `serve`.
#[test]
fn evolve_never_reaches_serve() {
    let g = manifests();
    refuse(&g, &["evolve"], &["serve", "axum", "tokio", "ureq"]);
}
