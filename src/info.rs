//! What `nestevo info` reports: versions, the compute device and threads.

use serde::Serialize;

#[derive(Debug, Clone, Serialize)]
pub struct Info {
    pub nestevo: String,
    /// LibTorch version, or "built without torch".
    pub libtorch: String,
    /// Where the loaded LibTorch lives (absent without torch).
    pub libtorch_path: Option<String>,
    /// "cpu" or "cuda:0 (NAME, N MiB)".
    pub device: String,
    pub cuda_devices: usize,
    /// What start-up did with LibTorch's CUDA library (absent without torch).
    pub cuda_library: Option<String>,
    pub torch_threads: Option<i32>,
    pub rayon_threads: usize,
    pub cpus: usize,
}

pub fn collect() -> Info {
    #[cfg_attr(not(feature = "torch"), allow(unused_mut))]
    let mut info = Info {
        nestevo: env!("CARGO_PKG_VERSION").to_string(),
        libtorch: "built without torch".into(),
        libtorch_path: None,
        device: "cpu".into(),
        cuda_devices: 0,
        cuda_library: None,
        torch_threads: None,
        rayon_threads: rayon::current_num_threads(),
        cpus: num_cpus::get(),
    };
    #[cfg(feature = "torch")]
    torch_info(&mut info);
    info
}

#[cfg(feature = "torch")]
fn torch_info(info: &mut Info) {
    // Touch LibTorch first so that its libraries are mapped, then read which ones were loaded:
    // the version is that of the library actually running, not of the one built against.
    info.torch_threads = Some(tch::get_num_threads());
    info.cuda_devices = tch::Cuda::device_count().max(0) as usize;
    info.cuda_library = crate::cuda::state().map(|c| c.to_string());
    let loaded = loaded_libtorch_dir();
    info.libtorch = loaded
        .as_deref()
        .and_then(|dir| {
            std::fs::read_to_string(std::path::Path::new(dir).join("../version.py")).ok()
        })
        .and_then(|t| {
            t.lines()
                .find(|l| l.starts_with("__version__"))
                .and_then(|l| l.split('\'').nth(1).map(str::to_string))
        })
        .unwrap_or_else(|| env!("NESTEVO_BUILD_LIBTORCH_VERSION").to_string());
    info.libtorch_path = loaded;
    if tch::Cuda::is_available() {
        info.device = format!(
            "cuda:0 ({})",
            gpu_name().unwrap_or_else(|| "CUDA GPU".into())
        );
    }
}

#[cfg(feature = "torch")]
fn loaded_libtorch_dir() -> Option<String> {
    let maps = std::fs::read_to_string("/proc/self/maps").ok()?;
    maps.lines()
        .filter_map(|l| l.split_whitespace().nth(5))
        .find(|p| p.ends_with("/libtorch_cpu.so"))
        .and_then(|p| {
            std::path::Path::new(p)
                .parent()
                .map(|d| d.display().to_string())
        })
}

/// The GPU's name and memory as the driver reports them (tch exposes neither).
#[cfg(feature = "torch")]
fn gpu_name() -> Option<String> {
    let out = std::process::Command::new("nvidia-smi")
        .args([
            "--query-gpu=name,memory.total",
            "--format=csv,noheader",
            "--id=0",
        ])
        .output()
        .ok()?;
    let text = String::from_utf8_lossy(&out.stdout).trim().to_string();
    (!text.is_empty()).then_some(text)
}

impl std::fmt::Display for Info {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(f, "nestevo        {}", self.nestevo)?;
        writeln!(f, "libtorch       {}", self.libtorch)?;
        if let Some(p) = &self.libtorch_path {
            writeln!(f, "libtorch path  {p}")?;
        }
        writeln!(f, "device         {}", self.device)?;
        writeln!(f, "cuda devices   {}", self.cuda_devices)?;
        if let Some(c) = &self.cuda_library {
            writeln!(f, "libtorch_cuda  {c}")?;
        }
        if let Some(t) = self.torch_threads {
            writeln!(f, "torch threads  {t}")?;
        }
        writeln!(f, "rayon threads  {}", self.rayon_threads)?;
        write!(f, "cpus           {}", self.cpus)
    }
}
