//! `nestevo bench ...`: benchmarks that time the system (their figures go to docs/).

use super::bench_couple::{AdcSweepArgs, GpuVsCimArgs, NoiseFinetuneArgs, NoiseSweepArgs};
use super::train::{train_step, TrainStepArgs};
use clap::Subcommand;

#[derive(Subcommand)]
pub enum BenchCommand {
    /// Milliseconds per training step of a detector (tch; benches/train_speed.sh puts PyTorch beside it).
    TrainStep(TrainStepArgs),
    /// Global-model inference on N frames: GPU/CPU (LibTorch, measured) versus simulated ISAAC
    /// (modelled time and energy, bit-faithful mAP), plus a ResNet-50 at 1280x720 through the mapper (Table 6).
    GpuVsCim(GpuVsCimArgs),
    /// Crossbar mAP@0.5 and per-layer ADC saturation at ADC 4..9 bits, flipping on/off, with and without noise.
    AdcSweep(AdcSweepArgs),
    /// mAP@0.5 of models trained with and without noise at mu 0..0.1, evaluated with the
    /// trainer's weight noise and bit-faithfully with weight- and cell-level noise (Fig. 15).
    NoiseSweep(NoiseSweepArgs),
    /// Fine-tunes a checkpoint with the trainer's Eq. 18-20 weight noise (mu 0: the baseline).
    NoiseFinetune(NoiseFinetuneArgs),
    /// mAP@0.5 of a detector on the chip under conductance drift (1 s to 10 years, with and
    /// without global compensation) and stuck-at faults, against the ideal chip.
    DeviceSweep(super::bench_device::DeviceSweepArgs),
}

pub fn run(c: BenchCommand) -> anyhow::Result<()> {
    match c {
        BenchCommand::TrainStep(a) => train_step(a),
        BenchCommand::GpuVsCim(a) => super::bench_couple::gpu_vs_cim(a),
        BenchCommand::AdcSweep(a) => super::bench_couple::adc(a),
        BenchCommand::NoiseSweep(a) => super::bench_couple::noise(a),
        BenchCommand::NoiseFinetune(a) => super::bench_couple::finetune(a),
        BenchCommand::DeviceSweep(a) => super::bench_device::run(a),
    }
}
