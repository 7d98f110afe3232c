//! The coupling benchmarks' pictures (plotters PNG): grouped bars on a log axis (GPU versus
//! CIM times and energies) and curves with spread bars (mAP against noise or ADC bits).

use plotters::prelude::*;
use std::path::Path;

const COLOURS: [RGBColor; 9] = [
    RGBColor(200, 30, 30),
    RGBColor(30, 90, 200),
    RGBColor(20, 150, 60),
    RGBColor(200, 120, 0),
    RGBColor(130, 50, 170),
    RGBColor(0, 150, 160),
    RGBColor(120, 80, 40),
    RGBColor(220, 90, 170),
    RGBColor(90, 90, 90),
];

fn err<E: std::fmt::Display>(e: E) -> String {
    e.to_string()
}

/// Grouped bars: each group (a network) has one bar per series, values > 0 on a log axis.
pub fn bars(
    path: &Path,
    title: &str,
    y_desc: &str,
    groups: &[String],
    series: &[(String, Vec<f64>)],
) -> Result<(), String> {
    let vals: Vec<f64> = series
        .iter()
        .flat_map(|s| s.1.iter().copied())
        .filter(|v| *v > 0.0 && v.is_finite())
        .collect();
    if vals.is_empty() {
        return Err("nothing to plot".into());
    }
    let lo = vals.iter().copied().fold(f64::MAX, f64::min) / 3.0;
    let hi = vals.iter().copied().fold(f64::MIN, f64::max) * 3.0;
    let root = BitMapBackend::new(path, (960, 600)).into_drawing_area();
    root.fill(&WHITE).map_err(err)?;
    let n = groups.len() as f64;
    let mut chart = ChartBuilder::on(&root)
        .caption(title, ("sans-serif", 20))
        .margin(12)
        .x_label_area_size(40)
        .y_label_area_size(80)
        .build_cartesian_2d(0f64..n, (lo..hi).log_scale())
        .map_err(err)?;
    let names = groups.to_vec();
    chart
        .configure_mesh()
        .disable_x_mesh()
        .x_labels(groups.len() * 2 + 1)
        .x_label_formatter(&|x| {
            let k = x.floor() as usize;
            if (x - k as f64 - 0.5).abs() < 0.01 && k < names.len() {
                names[k].clone()
            } else {
                String::new()
            }
        })
        .y_desc(y_desc)
        .draw()
        .map_err(err)?;
    let k = series.len() as f64;
    for (si, (name, v)) in series.iter().enumerate() {
        let c = COLOURS[si % COLOURS.len()];
        let rects = v
            .iter()
            .enumerate()
            .filter(|(_, y)| **y > 0.0)
            .map(|(g, y)| {
                let x0 = g as f64 + 0.1 + 0.8 * si as f64 / k;
                Rectangle::new([(x0, lo), (x0 + 0.8 / k, *y)], c.filled())
            });
        chart
            .draw_series(rects)
            .map_err(err)?
            .label(name.clone())
            .legend(move |(x, y)| Rectangle::new([(x, y - 5), (x + 10, y + 5)], c.filled()));
    }
    chart
        .configure_series_labels()
        .background_style(WHITE.mix(0.8))
        .border_style(BLACK)
        .draw()
        .map_err(err)?;
    root.present().map_err(err)?;
    Ok(())
}

/// One curve: (x, mean, spread) points; the spread is drawn as a bar of +- spread.
pub struct Curve {
    pub name: String,
    pub points: Vec<(f64, f64, f64)>,
}

/// Curves with spread bars on linear axes.
pub fn curves(
    path: &Path,
    title: &str,
    x_desc: &str,
    y_desc: &str,
    curves: &[Curve],
) -> Result<(), String> {
    let pts: Vec<&(f64, f64, f64)> = curves.iter().flat_map(|c| c.points.iter()).collect();
    if pts.is_empty() {
        return Err("nothing to plot".into());
    }
    let x0 = pts.iter().map(|p| p.0).fold(f64::MAX, f64::min);
    let x1 = pts.iter().map(|p| p.0).fold(f64::MIN, f64::max);
    let pad = ((x1 - x0) * 0.05).max(1e-3);
    let y1 = pts.iter().map(|p| p.1 + p.2).fold(0.0, f64::max).max(0.05) * 1.1;
    // Differences can be negative: the axis then reaches below 0 (clipping them at 0 would
    // draw a loss as no change).
    let y0 = pts.iter().map(|p| p.1 - p.2).fold(0.0, f64::min) * 1.1;
    let root = BitMapBackend::new(path, (960, 600)).into_drawing_area();
    root.fill(&WHITE).map_err(err)?;
    let mut chart = ChartBuilder::on(&root)
        .caption(title, ("sans-serif", 20))
        .margin(12)
        .x_label_area_size(48)
        .y_label_area_size(64)
        .build_cartesian_2d((x0 - pad)..(x1 + pad), y0..y1)
        .map_err(err)?;
    chart
        .configure_mesh()
        .x_desc(x_desc)
        .y_desc(y_desc)
        .draw()
        .map_err(err)?;
    if y0 < 0.0 {
        chart
            .draw_series(LineSeries::new(
                [(x0 - pad, 0.0), (x1 + pad, 0.0)],
                BLACK.stroke_width(1),
            ))
            .map_err(err)?;
    }
    for (i, c) in curves.iter().enumerate() {
        let col = COLOURS[i % COLOURS.len()];
        let mut p = c.points.clone();
        p.sort_by(|a, b| a.0.partial_cmp(&b.0).expect("finite"));
        chart
            .draw_series(LineSeries::new(
                p.iter().map(|q| (q.0, q.1)),
                col.stroke_width(2),
            ))
            .map_err(err)?
            .label(c.name.clone())
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 16, y)], col.stroke_width(2)));
        chart
            .draw_series(p.iter().map(|q| {
                PathElement::new(
                    vec![(q.0, q.1 - q.2), (q.0, q.1 + q.2)],
                    col.stroke_width(1),
                )
            }))
            .map_err(err)?;
        chart
            .draw_series(p.iter().map(|q| Circle::new((q.0, q.1), 3, col.filled())))
            .map_err(err)?;
    }
    chart
        .configure_series_labels()
        .background_style(WHITE.mix(0.8))
        .border_style(BLACK)
        .draw()
        .map_err(err)?;
    root.present().map_err(err)?;
    Ok(())
}
