//! The arrows of docs/architecture.md, checked on the source: the simulator (`kernels`, `arch`,
//! `cim`, `ppa`, `model`) never reaches the data, metrics, trainer, coupling, evolution,
//! scheduler, service or command line, and no library module reaches the command line.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

const SRC: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/src");
const KERNELS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/kernels");

/// Modules the simulator must not use.
const NOT_FOR_THE_SIMULATOR: [&str; 8] = [
    "data", "eval", "train", "couple", "evolve", "sched", "serve", "cli",
];
const SIMULATOR: [&str; 5] = ["arch", "cim", "ppa", "model", "sweep"];

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            rust_files(&p, out);
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
}

/// The top-level modules a file names through `crate::` (paths and `use crate::{a, b::c}`
/// groups), comments left out.
fn crate_modules(text: &str) -> BTreeSet<String> {
    let code: String = text
        .lines()
        .map(|l| l.split("//").next().unwrap_or(""))
        .collect::<Vec<_>>()
        .join("\n");
    let ident = |s: &str| -> String {
        s.chars()
            .take_while(|c| c.is_alphanumeric() || *c == '_')
            .collect()
    };
    let mut found = BTreeSet::new();
    let mut rest = code.as_str();
    while let Some(i) = rest.find("crate::") {
        rest = &rest[i + "crate::".len()..];
        let after = rest.trim_start();
        if let Some(group) = after.strip_prefix('{') {
            // Top-level names of the group: split at commas outside nested braces.
            let (mut depth, mut start) = (0usize, 0usize);
            for (k, ch) in group.char_indices() {
                match ch {
                    '{' => depth += 1,
                    '}' if depth == 0 => {
                        found.insert(ident(group[start..k].trim()));
                        break;
                    }
                    '}' => depth -= 1,
                    ',' if depth == 0 => {
                        found.insert(ident(group[start..k].trim()));
                        start = k + 1;
                    }
                    _ => {}
                }
            }
        } else {
            found.insert(ident(after));
        }
    }
    found.remove("");
    found
}

fn violations(module_dir: &Path, forbidden: &[&str]) -> Vec<String> {
    let mut files = Vec::new();
    rust_files(module_dir, &mut files);
    let mut v = Vec::new();
    for f in files {
        let text = std::fs::read_to_string(&f).unwrap();
        for m in crate_modules(&text) {
            if forbidden.contains(&m.as_str()) {
                v.push(format!("{} uses crate::{m}", f.display()));
            }
        }
    }
    v
}

/// The scanner sees plain paths, groups and nested groups, and skips comments.
#[test]
fn the_scanner_finds_crate_paths() {
    let t = "use crate::{arch::ArchSpec, data::{Frame, StreamId}};\n\
             let x = crate::eval::evaluate(a);\n// crate::train is only mentioned\n";
    let m = crate_modules(t);
    assert_eq!(
        m.into_iter().collect::<Vec<_>>(),
        ["arch", "data", "eval"],
        "a comment is not a use"
    );
}

/// No simulator module imports data, eval, train, couple, evolve, sched, serve or cli.
#[test]
fn the_simulator_imports_nothing_above_it() {
    let mut all = Vec::new();
    for m in SIMULATOR {
        let dir = Path::new(SRC).join(m);
        assert!(dir.is_dir(), "{} is a module folder", dir.display());
        all.extend(violations(&dir, &NOT_FOR_THE_SIMULATOR));
    }
    assert!(
        all.is_empty(),
        "arrows pointing the wrong way:\n{}",
        all.join("\n")
    );
}

/// The kernels crate depends on nothing of the project (it cannot name `nestevo`).
#[test]
fn the_kernels_crate_stands_alone() {
    let toml = std::fs::read_to_string(Path::new(KERNELS).join("Cargo.toml")).unwrap();
    let deps: Vec<&str> = toml
        .lines()
        .skip_while(|l| !l.starts_with("[dependencies]"))
        .skip(1)
        .take_while(|l| !l.starts_with('['))
        .filter(|l| !l.trim().is_empty())
        .collect();
    assert!(
        deps.iter().all(|l| !l.trim_start().starts_with("nestevo ")),
        "kernels depends on the nestevo package: {deps:?}"
    );
    let mut files = Vec::new();
    rust_files(&Path::new(KERNELS).join("src"), &mut files);
    for f in files {
        let text = std::fs::read_to_string(&f).unwrap();
        let code = text.lines().map(|l| l.split("//").next().unwrap_or(""));
        assert!(
            code.clone().all(|l| !l.contains("nestevo::")),
            "{} uses nestevo::",
            f.display()
        );
    }
}

/// No library module imports the command line.
#[test]
fn no_library_module_imports_the_cli() {
    let mut all = Vec::new();
    for e in std::fs::read_dir(SRC).unwrap() {
        let p = e.unwrap().path();
        let name = p.file_stem().unwrap().to_string_lossy().to_string();
        if name == "cli" || name == "main" || name == "lib" {
            continue;
        }
        if p.is_dir() {
            all.extend(violations(&p, &["cli"]));
        } else if crate_modules(&std::fs::read_to_string(&p).unwrap()).contains("cli") {
            all.push(format!("{} uses crate::cli", p.display()));
        }
    }
    assert!(all.is_empty(), "{}", all.join("\n"));
}

/// The LibTorch crossbar engine (`xbar_torch`) sits beside the simulator: it imports none of
/// data, eval, train, couple, evolve, sched, serve or cli, and no simulator module imports it
/// (or `engines`, the one place that names both engines).
#[test]
fn the_torch_engine_stays_beside_the_simulator() {
    let mut all = violations(&Path::new(SRC).join("xbar_torch"), &NOT_FOR_THE_SIMULATOR);
    for m in SIMULATOR {
        all.extend(violations(
            &Path::new(SRC).join(m),
            &["xbar_torch", "engines"],
        ));
    }
    assert!(
        all.is_empty(),
        "arrows pointing the wrong way:\n{}",
        all.join("\n")
    );
}

/// The evolution loop knows no transport: `evolve` never imports `serve` (the service drives
/// the loop, not the other way round).
#[test]
fn evolve_never_imports_serve() {
    let v = violations(&Path::new(SRC).join("evolve"), &["serve"]);
    assert!(
        v.is_empty(),
        "arrows pointing the wrong way:\n{}",
        v.join("\n")
    );
}
