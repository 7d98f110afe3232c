//! Inside `kernels/src`, `src/data` and `src/ppa` the imports between sibling files point one
//! way: no file reaches itself through `use crate::`/`super::` paths (the orders are in
//! `kernels/src/lib.rs`, `src/data/mod.rs` and `src/ppa/mod.rs`).

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// Sibling modules named after `prefix` (`crate::` or `super::`) anywhere in `src`, brace
/// groups (`use crate::{a, b}`) included.
fn named(src: &str, prefix: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for (i, _) in src.match_indices(prefix) {
        let rest = &src[i + prefix.len()..];
        let heads: Vec<&str> = match rest.strip_prefix('{') {
            Some(g) => g[..g.find('}').unwrap_or(0)].split(',').collect(),
            None => vec![rest],
        };
        for h in heads {
            let h = h.trim_start();
            let end = h
                .find(|c: char| !(c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_'))
                .unwrap_or(h.len());
            out.insert(h[..end].to_string());
        }
    }
    out
}

/// The import graph of one folder's files (mod.rs / lib.rs, the facades, left out).
fn graph(dir: &str, prefixes: &[&str]) -> BTreeMap<String, BTreeSet<String>> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join(dir);
    let mut files = BTreeMap::new();
    for e in std::fs::read_dir(&dir).unwrap() {
        let p = e.unwrap().path();
        let stem = p.file_stem().unwrap().to_string_lossy().into_owned();
        if p.extension().is_some_and(|x| x == "rs") && stem != "mod" && stem != "lib" {
            files.insert(stem, std::fs::read_to_string(&p).unwrap());
        }
    }
    let names: BTreeSet<String> = files.keys().cloned().collect();
    files
        .iter()
        .map(|(m, src)| {
            let d = prefixes
                .iter()
                .flat_map(|p| named(src, p))
                .filter(|d| d != m && names.contains(d))
                .collect();
            (m.clone(), d)
        })
        .collect()
}

/// A circle through the graph, if any, as the modules along it.
fn circle(g: &BTreeMap<String, BTreeSet<String>>) -> Option<Vec<String>> {
    fn visit(
        g: &BTreeMap<String, BTreeSet<String>>,
        n: &str,
        path: &mut Vec<String>,
        done: &mut BTreeSet<String>,
    ) -> Option<Vec<String>> {
        if let Some(i) = path.iter().position(|p| p == n) {
            let mut c = path[i..].to_vec();
            c.push(n.to_string());
            return Some(c);
        }
        if !done.insert(n.to_string()) {
            return None;
        }
        path.push(n.to_string());
        for d in &g[n] {
            if let Some(c) = visit(g, d, path, done) {
                return Some(c);
            }
        }
        path.pop();
        None
    }
    let mut done = BTreeSet::new();
    g.keys()
        .find_map(|n| visit(g, n, &mut Vec::new(), &mut done))
}

/// No circle among the kernel modules, nor among the files of `data` or of `ppa`.
#[test]
fn sibling_imports_point_one_way() {
    for (dir, prefixes) in [
        ("kernels/src", &["crate::"][..]),
        ("src/data", &["super::", "crate::data::"]),
        ("src/ppa", &["super::", "crate::ppa::"]),
    ] {
        let g = graph(dir, prefixes);
        assert!(g.len() > 3, "{dir}: too few modules read: {g:?}");
        if let Some(c) = circle(&g) {
            panic!("{dir}: import circle {}", c.join(" -> "));
        }
    }
}
