//! Inside every crate's folders, and the command line's, the imports between sibling files point
//! one way: no file reaches itself through `crate::`/`super::` paths.

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

/// Every folder of Rust files in the workspace's sources: the kernels, each crate's `src` and
/// its subfolders, the binary's `src` and `src/cli`.
fn folders() -> Vec<String> {
    fn walk(dir: &Path, root: &Path, out: &mut Vec<String>) {
        let mut has_rs = false;
        for e in std::fs::read_dir(dir).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                walk(&p, root, out);
            } else if p.extension().is_some_and(|x| x == "rs") {
                has_rs = true;
            }
        }
        if has_rs {
            out.push(
                dir.strip_prefix(root)
                    .unwrap()
                    .to_string_lossy()
                    .into_owned(),
            );
        }
    }
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut out = Vec::new();
    walk(&root.join("kernels/src"), root, &mut out);
    walk(&root.join("src"), root, &mut out);
    for e in std::fs::read_dir(root.join("crates")).unwrap() {
        walk(&e.unwrap().path().join("src"), root, &mut out);
    }
    out.sort();
    out
}

/// No circle among the files of any folder.
#[test]
fn sibling_imports_point_one_way() {
    let dirs = folders();
    assert!(dirs.len() > 15, "too few folders read: {dirs:?}");
    let mut circles = Vec::new();
    for dir in &dirs {
        let g = graph(dir, &["crate::", "super::"]);
        if let Some(c) = circle(&g) {
            circles.push(format!("{dir}: {}", c.join(" -> ")));
        }
    }
    assert!(
        circles.is_empty(),
        "import circles:\n{}",
        circles.join("\n")
    );
}
