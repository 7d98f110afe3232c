//! Links what a LibTorch crate builds (the binary, and each crate's test binaries) to the
//! LibTorch of the project's virtualenv so that it runs without LD_LIBRARY_PATH, and keeps
//! libtorch_cuda linked (the linker's --as-needed would drop it, and then no GPU is ever seen),
//! except into the binary, which opens it at start-up where a GPU can be there.
//! Shared by every crate that links LibTorch (`build = "../../build.rs"`).
use std::path::PathBuf;

/// Crates that always link LibTorch; the others do with their feature `torch`.
const ALWAYS: [&str; 3] = ["nestevo-train", "nestevo-xbar-torch", "nestevo-serve"];

fn main() {
    println!("cargo:rerun-if-env-changed=LIBTORCH");
    println!("cargo:rerun-if-changed={}", file!());
    let pkg = std::env::var("CARGO_PKG_NAME").unwrap_or_default();
    if std::env::var_os("CARGO_FEATURE_TORCH").is_none() && !ALWAYS.contains(&pkg.as_str()) {
        return;
    }
    let Some(root) = std::env::var_os("LIBTORCH") else {
        return;
    };
    let root = PathBuf::from(root);
    let root = root.canonicalize().unwrap_or(root);
    let lib = root.join("lib");
    println!("cargo:rustc-link-arg=-Wl,-rpath,{}", lib.display());
    // The binary opens libtorch_cuda itself where a driver is present (`src/cuda.rs`).
    if lib.join("libtorch_cuda.so").exists() && pkg != "nestevo" {
        println!(
            "cargo:rustc-link-arg=-Wl,--no-as-needed,-L{},-ltorch_cuda,--as-needed",
            lib.display()
        );
    }
    let version = std::fs::read_to_string(root.join("version.py"))
        .ok()
        .and_then(|t| {
            t.lines()
                .find(|l| l.starts_with("__version__"))
                .and_then(|l| l.split('\'').nth(1).map(str::to_string))
        })
        .unwrap_or_else(|| "unknown".into());
    println!("cargo:rustc-env=NESTEVO_BUILD_LIBTORCH_VERSION={version}");
}
