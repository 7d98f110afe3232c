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

/// Opens `libtorch_cuda.so` where a driver is present (see the module doc); says why on
/// standard error when a driver is present and it cannot be opened. Idempotent.
pub fn init() -> &'static CudaLoad {
    STATE.get_or_init(|| {
        let wanted = match std::env::var("NESTEVO_CUDA").as_deref() {
            Ok("0") => return CudaLoad::Disabled,
            Ok("1") => true,
            _ => driver_present(),
        };
        if !wanted {
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
                eprintln!("warning: an NVIDIA driver is present but {LIBRARY} {state}; LibTorch runs on the CPU");
                state
            }
        }
    })
}

/// What `init` did (`init` runs it if it has not run).
pub fn state() -> &'static CudaLoad {
    init()
}

fn driver_present() -> bool {
    ["/dev/nvidiactl", "/proc/driver/nvidia/version"]
        .iter()
        .any(|p| std::path::Path::new(p).exists())
}
