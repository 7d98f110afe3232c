//! LibTorch's CUDA half, opened at start-up only where an NVIDIA driver is present.
//!
//! The binary is linked without `libtorch_cuda.so` (`build.rs`): mapping it and running its
//! static initialisers is a third of LibTorch's start-up (about 0.1 s on every command, every
//! `cim run` included), spent for nothing on a machine without a GPU. Where a driver is found it
//! is opened here, first thing in `main`, before any LibTorch call: its initialisers register
//! the CUDA backend as they do when it is linked. (LibTorch looks its CUDA hooks up once and
//! keeps what it found, so opening it after a first tensor would be too late.) The dynamic
//! loader searches for it as it would for a linked library (`LD_LIBRARY_PATH`, the binary's
//! run path).
//!
//! `NESTEVO_CUDA=0` never opens it (the CPU on any machine); `NESTEVO_CUDA=1` opens it without
//! looking for a driver.

use std::sync::OnceLock;

/// What start-up did with `libtorch_cuda.so`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CudaLoad {
    /// Opened: LibTorch sees the GPUs the driver offers.
    Loaded,
    /// Not opened: no NVIDIA driver here (`/dev/nvidiactl`, `/proc/driver/nvidia/version`).
    NoDriver,
    /// Not opened: `NESTEVO_CUDA=0`.
    Disabled,
    /// Opening it failed (a CPU-only LibTorch, or a library missing): the loader's message.
    Failed(String),
}

impl std::fmt::Display for CudaLoad {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            CudaLoad::Loaded => write!(f, "loaded"),
            CudaLoad::NoDriver => write!(f, "not loaded (no NVIDIA driver on this machine)"),
            CudaLoad::Disabled => write!(f, "not loaded (NESTEVO_CUDA=0)"),
            CudaLoad::Failed(e) => write!(f, "failed to load: {e}"),
        }
    }
}

static STATE: OnceLock<CudaLoad> = OnceLock::new();

const LIBRARY: &str = "libtorch_cuda.so";
const VAR: &str = "NESTEVO_CUDA";

/// A value of `NESTEVO_CUDA`: `None` to look for a driver, `Some(open)` otherwise.
fn parse(value: &str) -> Result<Option<bool>, String> {
    match value {
        "0" => Ok(Some(false)),
        "1" => Ok(Some(true)),
        v => Err(format!(
            "environment variable {VAR} = {v:?} is not allowed: 0 (never open {LIBRARY}), 1 \
             (always open it) or unset (open it where an NVIDIA driver is present)"
        )),
    }
}

/// Opens `libtorch_cuda.so` where a driver is present or `NESTEVO_CUDA=1` asks (see the module
/// doc) and keeps what happened for `state`; says on standard error why it could not be opened.
/// Refuses a `NESTEVO_CUDA` other than 0 or 1.
pub fn init() -> Result<(), String> {
    let forced = match std::env::var(VAR) {
        Ok(v) => parse(&v)?,
        Err(_) => None,
    };
    STATE.get_or_init(|| {
        let (open, why) = match forced {
            Some(false) => return CudaLoad::Disabled,
            Some(true) => (true, "NESTEVO_CUDA=1"),
            None => (driver_present(), "an NVIDIA driver is present"),
        };
        if !open {
            return CudaLoad::NoDriver;
        }
        let flags = libloading::os::unix::RTLD_NOW | libloading::os::unix::RTLD_GLOBAL;
        // SAFETY: the library's initialisers are LibTorch's own, the ones that run at start-up
        // when it is linked; nothing of LibTorch has run yet (this is the first thing `main`
        // does). The handle is never closed: the backend it registers lives as long as the
        // process.
        match unsafe { libloading::os::unix::Library::open(Some(LIBRARY), flags) } {
            Ok(lib) => {
                std::mem::forget(lib);
                CudaLoad::Loaded
            }
            Err(e) => {
                let state = CudaLoad::Failed(e.to_string());
                eprintln!("warning: {why} but {LIBRARY} {state}; LibTorch runs on the CPU");
                state
            }
        }
    });
    Ok(())
}

/// What `init` did; `None` before it ran.
pub fn state() -> Option<&'static CudaLoad> {
    STATE.get()
}

fn driver_present() -> bool {
    ["/dev/nvidiactl", "/proc/driver/nvidia/version"]
        .iter()
        .any(|p| std::path::Path::new(p).exists())
}
