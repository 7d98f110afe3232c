//! Event counts measured by a run: the kernels count them as they do the work (definitions in
//! `nestevo_kernels::Counts` and docs/simulator.md).

pub use nestevo_kernels::Counts as LayerStats;

/// The counts of a run of a B x K -> N product as a Markdown table, every figure with its unit.
pub fn counts_table(
    arch: &str,
    (b, k, n): (usize, usize, usize),
    s: &LayerStats,
    run_s: f64,
) -> String {
    let mut t = format!("arch {arch}: B {b} x K {k} -> N {n}\n");
    t += "| quantity | value |\n|---|---|\n";
    t += &format!("| crossbars | {} crossbars |\n", s.crossbars);
    t += &format!("| crossbar reads | {} reads |\n", s.crossbar_reads);
    t += &format!("| DAC pulses | {} pulses |\n", s.dac_pulses);
    t += &format!("| ADC conversions | {} conversions |\n", s.adc_conversions);
    t += &format!(
        "| ADC saturations | {} conversions ({:.4} %) |\n",
        s.adc_saturations,
        100.0 * s.saturation_rate()
    );
    t += &format!("| shift-and-adds | {} operations |\n", s.shift_adds);
    t += &format!("| MACs | {} MACs |\n", s.macs);
    t += &format!(
        "| run time | {:.3} s ({:.3e} simulated MAC/s) |\n",
        run_s,
        s.macs as f64 / run_s.max(1e-12)
    );
    t
}
