//! Convergence plots (PNG via plotters, text with the embedded DejaVu Sans font).

use plotters::prelude::*;
use std::path::Path;

/// One curve: label and relative residuals per iteration.
pub struct Series<'a> {
    /// Legend label.
    pub label: String,
    /// y values (relative residual), x = index.
    pub values: &'a [f64],
}

fn register_font() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        // DejaVu Sans is a valid TrueType font; registration cannot fail for it.
        let _ = plotters::style::register_font(
            "sans-serif",
            FontStyle::Normal,
            dejavu::sans::regular(),
        );
    });
}

/// Writes a log-scale plot of relative residual vs iteration.
pub fn convergence(path: &Path, title: &str, series: &[Series]) -> Result<(), String> {
    log_plot(
        path,
        title,
        "iteration",
        "relative residual ‖r‖/‖b‖",
        series,
    )
}

/// Writes a log-scale plot of positive values vs their index (a thin wrapper of
/// [`xy_plot`]).
pub fn log_plot(
    path: &Path,
    title: &str,
    x_desc: &str,
    y_desc: &str,
    series: &[Series],
) -> Result<(), String> {
    let xy: Vec<XySeries> = series
        .iter()
        .map(|s| XySeries {
            label: s.label.clone(),
            points: s
                .values
                .iter()
                .enumerate()
                .map(|(i, &v)| (i as f64, v))
                .collect(),
        })
        .collect();
    xy_plot(path, title, x_desc, y_desc, &xy, false)
}

/// One curve of (x, y) points.
pub struct XySeries {
    /// Legend label.
    pub label: String,
    /// Points; only positive finite coordinates are drawn.
    pub points: Vec<(f64, f64)>,
}

/// Writes a log-log plot of marginal error against seconds.
pub fn error_vs_time(path: &Path, title: &str, series: &[XySeries]) -> Result<(), String> {
    xy_plot(
        path,
        title,
        "seconds",
        "marginal error ‖P1−a‖₁ + ‖Pᵀ1−b‖₁",
        series,
        true,
    )
}

/// Writes a plot with a log-scale y axis, and a log-scale x axis when `log_x`; points that
/// cannot be drawn (non-positive on a log axis, non-finite) are skipped.
pub fn xy_plot(
    path: &Path,
    title: &str,
    x_desc: &str,
    y_desc: &str,
    series: &[XySeries],
    log_x: bool,
) -> Result<(), String> {
    register_font();
    let e = |x: &dyn std::fmt::Display| format!("plot {}: {x}", path.display());
    let root = BitMapBackend::new(path, (1000, 640)).into_drawing_area();
    root.fill(&WHITE).map_err(|x| e(&x))?;
    let ok = move |(x, y): &(f64, f64)| {
        x.is_finite() && (*x > 0.0 || !log_x) && y.is_finite() && *y > 0.0
    };
    let pts = || {
        series
            .iter()
            .flat_map(|s| s.points.iter().filter(|p| ok(p)))
    };
    let (x0, x1) = pts().fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), p| {
        (a.min(p.0), b.max(p.0))
    });
    let (y0, y1) = pts().fold((f64::INFINITY, 0.0f64), |(a, b), p| {
        (a.min(p.1), b.max(p.1))
    });
    if !(x0.is_finite() && y0.is_finite()) {
        return Err(e(&"no drawable points"));
    }
    let mut builder = ChartBuilder::on(&root);
    builder
        .caption(title, ("sans-serif", 24))
        .margin(15)
        .x_label_area_size(45)
        .y_label_area_size(80);
    let yr = (y0 * 0.5..y1 * 2.0).log_scale();
    let fmt = |v: &f64| format!("{v:.0e}");
    if log_x {
        let mut chart = builder
            .build_cartesian_2d((x0 * 0.8..x1 * 1.25).log_scale(), yr)
            .map_err(|x| e(&x))?;
        chart
            .configure_mesh()
            .x_desc(x_desc)
            .y_desc(y_desc)
            .x_label_formatter(&fmt)
            .y_label_formatter(&fmt)
            .label_style(("sans-serif", 16))
            .draw()
            .map_err(|x| e(&x))?;
        draw_xy(&mut chart, series, &ok).map_err(|x| e(&x))?;
    } else {
        let pad = 0.02 * (x1 - x0).max(1e-12);
        let mut chart = builder
            .build_cartesian_2d(x0 - pad..x1 + pad, yr)
            .map_err(|x| e(&x))?;
        chart
            .configure_mesh()
            .x_desc(x_desc)
            .y_desc(y_desc)
            .y_label_formatter(&fmt)
            .label_style(("sans-serif", 16))
            .draw()
            .map_err(|x| e(&x))?;
        draw_xy(&mut chart, series, &ok).map_err(|x| e(&x))?;
    }
    root.present().map_err(|x| e(&x))?;
    Ok(())
}

fn draw_xy<'a, X, Y>(
    chart: &mut ChartContext<'a, BitMapBackend<'a>, Cartesian2d<X, Y>>,
    series: &[XySeries],
    ok: &dyn Fn(&(f64, f64)) -> bool,
) -> Result<(), String>
where
    X: Ranged<ValueType = f64>,
    Y: Ranged<ValueType = f64>,
{
    for (k, s) in series.iter().enumerate() {
        let color = Palette99::pick(k).to_rgba();
        let p: Vec<(f64, f64)> = s.points.iter().copied().filter(|p| ok(p)).collect();
        chart
            .draw_series(LineSeries::new(p, color.stroke_width(2)))
            .map_err(|x| x.to_string())?
            .label(s.label.clone())
            .legend(move |(x, y)| {
                PathElement::new(vec![(x, y), (x + 20, y)], color.stroke_width(2))
            });
    }
    chart
        .configure_series_labels()
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK)
        .label_font(("sans-serif", 16))
        .position(SeriesLabelPosition::UpperRight)
        .draw()
        .map_err(|x| x.to_string())?;
    Ok(())
}
