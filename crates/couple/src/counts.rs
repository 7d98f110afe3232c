//! The counted events of a run on the crossbars as rows of a `| quantity | value |` table, the
//! same in the detector's report and any network's.

use nestevo_cim::LayerStats;

/// Batch-norms folded, crossbars, reads, ADC conversions and saturations, MACs.
pub fn count_rows(folded: usize, t: &LayerStats, saturation_rate: f64) -> String {
    let mut s = format!("| batch-norms folded | {folded} layers |\n");
    s += &format!("| crossbars | {} crossbars |\n", t.crossbars);
    s += &format!("| crossbar reads | {} reads |\n", t.crossbar_reads);
    s += &format!("| ADC conversions | {} conversions |\n", t.adc_conversions);
    s += &format!(
        "| ADC saturations | {} conversions ({:.4} %) |\n",
        t.adc_saturations,
        100.0 * saturation_rate
    );
    s += &format!("| MACs | {} MACs |\n", t.macs);
    s
}
