//! The flags of `nestevo cim run` (a detector on a stream, or any network on given inputs).

use super::args::{ArchSel, BackendArg, HeldOutArgs, NoiseArgs};
use clap::Args;
use std::path::PathBuf;

/// Runs a checkpoint's network layer by layer on the simulated crossbars and in float.
#[derive(Args)]
pub struct RunArgs {
    #[command(flatten)]
    pub sel: ArchSel,
    /// Weights saved by the trainer: DIR/NAME.safetensors (not needed for an .onnx --model).
    #[arg(long, required_unless_present = "inputs")]
    pub checkpoint: Option<PathBuf>,
    /// Model description (default: NAME.toml beside the checkpoint), or an .onnx file.
    #[arg(long)]
    pub model: Option<PathBuf>,
    /// Any network, not a detector: float32 .npy inputs [batch, ...] in the network's input
    /// layout; then --out is a folder for float.npy, cim.npy and report.json.
    #[arg(long, requires = "model", conflicts_with_all = ["stream", "frames"])]
    pub inputs: Option<PathBuf>,
    /// With --inputs: calibration inputs (default: the inputs themselves).
    #[arg(long, requires = "inputs")]
    pub calib: Option<PathBuf>,
    /// Scored frames (default: 16 of stream source).
    #[command(flatten)]
    pub frames: HeldOutArgs,
    /// Frames that calibrate the activation scales (the same rule on the next seed, never scored).
    #[arg(long, default_value_t = 4)]
    pub calib_frames: usize,
    #[command(flatten)]
    pub noise: NoiseArgs,
    #[command(flatten)]
    pub backend: BackendArg,
    /// Frames (with --inputs, inputs) per forward: more take more memory (im2col, the bit
    /// planes) and make fewer, larger calls into the engine (what a GPU's launch overhead
    /// favours).
    #[arg(long, default_value_t = nestevo_couple::FRAMES_PER_FORWARD)]
    pub batch: usize,
    /// Print the report as JSON.
    #[arg(long)]
    pub json: bool,
    /// Also write the JSON report to this file (atomically); with --inputs, the output folder.
    #[arg(long)]
    pub out: Option<PathBuf>,
}
