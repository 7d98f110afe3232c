//! The sweep's picture: energy per frame against latency of every valid point (grey), the
//! Pareto front of each model in its own colour, log-log axes.

use super::csv::Row;
use plotters::prelude::*;
use std::path::Path;

const COLOURS: [RGBColor; 6] = [
    RGBColor(200, 30, 30),
    RGBColor(30, 90, 200),
    RGBColor(20, 150, 60),
    RGBColor(200, 120, 0),
    RGBColor(130, 50, 170),
    RGBColor(0, 150, 160),
];

/// Writes the PNG; `front` indexes `rows`.
pub fn plot(path: &Path, title: &str, rows: &[Row], front: &[usize]) -> Result<(), String> {
    let pts: Vec<(f64, f64)> = rows
        .iter()
        .filter_map(|r| r.metrics.map(|m| (m.energy_per_frame_uj, m.latency_us)))
        .filter(|(e, l)| *e > 0.0 && *l > 0.0)
        .collect();
    if pts.is_empty() {
        return Err("no valid design point to plot".into());
    }
    let (mut x0, mut x1, mut y0, mut y1) = (f64::MAX, f64::MIN, f64::MAX, f64::MIN);
    for (x, y) in &pts {
        x0 = x0.min(*x);
        x1 = x1.max(*x);
        y0 = y0.min(*y);
        y1 = y1.max(*y);
    }
    // Some room around the points (also when all points coincide).
    let (x0, x1, y0, y1) = (x0 / 1.2, x1 * 1.2, y0 / 1.2, y1 * 1.2);
    let root = BitMapBackend::new(path, (960, 640)).into_drawing_area();
    let e = |e: DrawingAreaErrorKind<_>| e.to_string();
    root.fill(&WHITE).map_err(e)?;
    let mut chart = ChartBuilder::on(&root)
        .caption(title, ("sans-serif", 20))
        .margin(12)
        .x_label_area_size(56)
        .y_label_area_size(72)
        .build_cartesian_2d((x0..x1).log_scale(), (y0..y1).log_scale())
        .map_err(e)?;
    chart
        .configure_mesh()
        .x_desc("energy per frame (microjoules)")
        .y_desc("latency (microseconds)")
        .draw()
        .map_err(e)?;
    chart
        .draw_series(
            pts.iter()
                .map(|&p| Circle::new(p, 2, RGBColor(170, 170, 170).filled())),
        )
        .map_err(e)?
        .label("all valid points")
        .legend(|(x, y)| Circle::new((x, y), 3, RGBColor(170, 170, 170).filled()));
    let mut models: Vec<&str> = Vec::new();
    for &i in front {
        if !models.contains(&rows[i].model.as_str()) {
            models.push(&rows[i].model);
        }
    }
    for (k, model) in models.iter().enumerate() {
        let c = COLOURS[k % COLOURS.len()];
        let mut fp: Vec<(f64, f64)> = front
            .iter()
            .filter(|&&i| rows[i].model == *model)
            .filter_map(|&i| {
                rows[i]
                    .metrics
                    .map(|m| (m.energy_per_frame_uj, m.latency_us))
            })
            .collect();
        fp.sort_by(|a, b| a.partial_cmp(b).expect("finite"));
        chart
            .draw_series(fp.iter().map(|&p| Circle::new(p, 4, c.filled())))
            .map_err(e)?
            .label(format!("{model}: Pareto front ({} points)", fp.len()))
            .legend(move |(x, y)| Circle::new((x, y), 4, c.filled()));
    }
    chart
        .configure_series_labels()
        .background_style(WHITE.mix(0.8))
        .border_style(BLACK)
        .draw()
        .map_err(e)?;
    root.present().map_err(e)?;
    Ok(())
}
