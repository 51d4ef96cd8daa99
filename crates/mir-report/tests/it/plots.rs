//! Plots are valid SVG and PNG files with the expected series: the SVG is parsed as XML and
//! each series' line is found by its colour and checked against the data; the PNG is decoded
//! and each series' colour is found in its pixels.

use std::collections::BTreeMap;

use mir_report::RunKey;
use mir_report::plot::{self, Figure, PALETTE};
use mir_table::Epoch;
use serde_json::json;

use crate::fixture;

fn deformations() -> BTreeMap<String, serde_json::Value> {
    [
        (
            "noise_10db",
            json!({"steps": [{"type": "white_noise", "snr_db": 10}]}),
        ),
        (
            "noise_20db",
            json!({"steps": [{"type": "white_noise", "snr_db": 20}]}),
        ),
        ("mp3_64", json!({"steps": [{"type": "mp3", "bitrate": 64}]})),
        // Two steps: not a sweep.
        (
            "chain",
            json!({"steps": [{"type": "gain", "gain_db": -6}, {"type": "mp3", "bitrate": 64}]}),
        ),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect()
}

fn hex(i: usize) -> String {
    let (r, g, b) = PALETTE[i];
    format!("#{r:02X}{g:02X}{b:02X}")
}

/// A polyline: stroke colour, stroke width, points.
type Line = (String, String, Vec<(f64, f64)>);

/// Text contents, polylines and rectangle fills of an SVG document.
struct Svg {
    texts: Vec<String>,
    lines: Vec<Line>,
    rects: Vec<String>,
}

fn parse(svg: &str) -> Svg {
    let doc = roxmltree::Document::parse(svg).expect("valid XML");
    assert_eq!(doc.root_element().tag_name().name(), "svg");
    let mut out = Svg {
        texts: Vec::new(),
        lines: Vec::new(),
        rects: Vec::new(),
    };
    for n in doc.descendants() {
        match n.tag_name().name() {
            "text" => out.texts.push(n.text().unwrap_or("").trim().to_owned()),
            "polyline" => {
                let points = n
                    .attribute("points")
                    .unwrap()
                    .split_whitespace()
                    .map(|p| {
                        let (x, y) = p.split_once(',').unwrap();
                        (x.parse().unwrap(), y.parse().unwrap())
                    })
                    .collect();
                out.lines.push((
                    n.attribute("stroke").unwrap_or("").to_owned(),
                    n.attribute("stroke-width").unwrap_or("").to_owned(),
                    points,
                ));
            }
            "rect" => out.rects.push(n.attribute("fill").unwrap_or("").to_owned()),
            _ => {}
        }
    }
    out
}

/// Pixel counts per colour of a PNG, after checking its size.
fn png_colours(png: &[u8]) -> BTreeMap<(u8, u8, u8), usize> {
    let decoder = png::Decoder::new(std::io::Cursor::new(png));
    let mut reader = decoder.read_info().expect("valid PNG");
    let mut buf = vec![0; reader.output_buffer_size().unwrap()];
    let info = reader.next_frame(&mut buf).unwrap();
    assert_eq!((info.width, info.height), plot::SIZE);
    assert_eq!(info.color_type, png::ColorType::Rgb);
    let mut counts = BTreeMap::new();
    for px in buf[..info.buffer_size()].chunks(3) {
        *counts.entry((px[0], px[1], px[2])).or_default() += 1;
    }
    counts
}

#[test]
fn robustness_curves_have_a_line_per_system_through_its_values() {
    let figures = plot::robustness(&fixture(), &deformations(), None);
    let names: Vec<&str> = figures.iter().map(|(n, _)| n.as_str()).collect();
    // A figure per task and sweep of two levels or more: mp3 has one level (and no metrics),
    // the chain is not a sweep.
    assert_eq!(
        names,
        [
            "robustness_ds_genre_white_noise",
            "robustness_ds_key_white_noise"
        ]
    );
    let (_, figure) = &figures[0];
    let svg = parse(&figure.svg().unwrap());
    assert!(svg.texts.iter().any(|t| t == "snr_db"));
    let systems = [
        "a L0 linear",
        "a L0 mlp",
        "b L0 linear",
        "b L0 mlp",
        "b L1 linear",
        "b L1 mlp",
    ];
    for s in systems {
        assert!(svg.texts.iter().any(|t| t == s), "legend entry {s}");
    }
    // The vertical axis: the first black vertical line, from value 1 (top) to 0 (bottom).
    let axis = svg
        .lines
        .iter()
        .find(|(c, _, p)| c == "#000000" && p.len() == 2 && p[0].0 == p[1].0)
        .unwrap();
    let (top, bottom) = (axis.2[0].1, axis.2[1].1);
    let value = |y: f64| (bottom - y) / (bottom - top);
    // Genre accuracy at 10 and 20 dB: clean - 0.25 and clean - 0.1 (a/linear: mean of seeds).
    let clean = [0.51, 0.55, 0.6, 0.65, 0.7, 0.75];
    for (i, c) in clean.iter().enumerate() {
        let line = svg
            .lines
            .iter()
            .find(|(stroke, w, p)| {
                stroke == &hex(i) && w == "2" && p.len() == 2 && p[0].1 != p[1].1
            })
            .unwrap_or_else(|| panic!("no data line for {}", systems[i]));
        let (at10, at20) = (value(line.2[0].1), value(line.2[1].1));
        assert!((at10 - (c - 0.25)).abs() < 0.005, "{}: {at10}", systems[i]);
        assert!((at20 - (c - 0.1)).abs() < 0.005, "{}: {at20}", systems[i]);
        assert!(line.2[0].0 < line.2[1].0, "10 dB left of 20 dB");
    }
    let colours = png_colours(&figure.png().unwrap());
    for i in 0..systems.len() {
        let (r, g, b) = PALETTE[i];
        assert!(
            colours.get(&(r, g, b)).copied().unwrap_or(0) > 100,
            "colour of {}",
            systems[i]
        );
    }
}

#[test]
fn bars_have_one_bar_per_system_with_its_interval() {
    let figures = plot::bars(&fixture(), None);
    assert_eq!(figures.len(), 2);
    let (name, figure) = &figures[1];
    assert_eq!(name, "bars_ds_key");
    let Figure::Bars { bars, y_label, .. } = figure else {
        panic!("a bar chart")
    };
    assert_eq!(y_label, "mirex_weighted");
    assert_eq!(bars.len(), 6);
    assert_eq!(bars[0].label, "a L0 linear");
    assert!((bars[0].value - 0.3).abs() < 1e-12);
    assert_eq!(bars[0].interval, Some((0.3 - 0.1, 0.3 + 0.1)));
    let svg = parse(&figure.svg().unwrap());
    for (i, bar) in bars.iter().enumerate() {
        assert!(svg.rects.contains(&hex(i)), "bar {i}");
        assert!(svg.texts.contains(&bar.label));
    }
    png_colours(&figure.png().unwrap());
    // Seeds give ± one standard deviation (0.50 and 0.52: 0.02 / sqrt 2).
    let genre = match &figures[0].1 {
        Figure::Bars { bars, .. } => bars[0].clone(),
        _ => unreachable!(),
    };
    let (lo, hi) = genre.interval.unwrap();
    assert!(
        (genre.value - 0.51).abs() < 1e-12 && (hi - lo - 2.0 * 0.02 / 2f64.sqrt()).abs() < 1e-9
    );
}

#[test]
fn training_curves_and_layers_have_their_series() {
    let run = RunKey {
        dataset: "ds".into(),
        task: "genre".into(),
        model: "b".into(),
        layer: 1,
        probe: "mlp".into(),
        seed: 0,
    };
    let epochs: Vec<Epoch> = (1..=10)
        .map(|e| Epoch {
            epoch: e,
            train_loss: 2.0 / f64::from(e),
            validation_loss: Some(2.2 / f64::from(e) + 0.1),
            validation_metric: Some(0.5 + 0.04 * f64::from(e)),
            learning_rate: 1e-3,
            seconds: 0.1,
        })
        .collect();
    let figure = plot::training_curves(&run, &epochs);
    let Figure::Lines(panels) = &figure else {
        panic!("lines")
    };
    assert_eq!(panels.len(), 2);
    let svg = parse(&figure.svg().unwrap());
    for t in [
        "training loss",
        "validation loss",
        "validation metric",
        "epoch",
    ] {
        assert!(svg.texts.iter().any(|x| x == t), "{t}");
    }
    let training = svg
        .lines
        .iter()
        .find(|(c, w, p)| c == &hex(0) && w == "2" && p.len() == 10)
        .expect("10 epochs of training loss");
    assert!(
        training.2.windows(2).all(|w| w[1].1 > w[0].1),
        "loss falls (y grows downwards)"
    );
    png_colours(&figure.png().unwrap());

    let layers = plot::per_layer(&fixture(), None);
    assert_eq!(layers.len(), 2, "a figure per task");
    let Figure::Lines(panels) = &layers[0].1 else {
        panic!("lines")
    };
    let names: Vec<&str> = panels[0].series.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(
        names,
        ["b linear", "b mlp"],
        "only the model with two layers"
    );
    assert_eq!(panels[0].series[0].points.len(), 2);
}

#[test]
fn sweeps_group_single_step_scenarios_by_kind_and_parameter() {
    let sweeps = plot::sweeps(&deformations());
    assert_eq!(sweeps.len(), 2);
    assert_eq!(
        (sweeps[1].kind.as_str(), sweeps[1].parameter.as_str()),
        ("white_noise", "snr_db")
    );
    assert_eq!(
        sweeps[1].levels,
        [
            ("noise_10db".to_owned(), 10.0),
            ("noise_20db".to_owned(), 20.0)
        ]
    );
}

/// A regression scatter: a panel per target under the run's title, a point per test track
/// and the dashed diagonal; perfect predictions lie on it.
#[test]
fn regression_scatter_has_a_point_per_track_on_the_diagonal_when_perfect() {
    let run = RunKey {
        dataset: "emomusic".into(),
        task: "arousal_valence".into(),
        model: "logmel".into(),
        layer: 0,
        probe: "linear".into(),
        seed: 0,
    };
    let perfect: Vec<(f64, f64)> = (0..25)
        .map(|i| (f64::from(i) / 10.0 - 1.0, f64::from(i) / 10.0 - 1.0))
        .collect();
    let noisy: Vec<(f64, f64)> = perfect.iter().map(|(x, _)| (*x, -x)).collect();
    let names = ["arousal".to_string(), "valence".to_string()];
    let figure = plot::regression_scatter(&run, &names, &[perfect, noisy]);
    let svg_text = figure.svg().unwrap();
    let svg = parse(&svg_text);
    assert!(
        svg.texts
            .iter()
            .any(|t| t.contains("predicted against true")),
        "{:?}",
        svg.texts
    );
    for t in ["arousal", "valence", "true arousal", "predicted valence"] {
        assert!(svg.texts.iter().any(|x| x == t), "{t}");
    }
    let doc = roxmltree::Document::parse(&svg_text).unwrap();
    let circles: Vec<(f64, f64)> = doc
        .descendants()
        .filter(|n| n.tag_name().name() == "circle")
        .map(|n| {
            (
                n.attribute("cx").unwrap().parse().unwrap(),
                n.attribute("cy").unwrap().parse().unwrap(),
            )
        })
        .collect();
    assert_eq!(circles.len(), 50, "a point per track and target");
    // The first panel's points rise to the right (y grows downwards), the second's fall.
    assert!(
        circles[..25]
            .windows(2)
            .all(|w| w[1].0 > w[0].0 && w[1].1 < w[0].1)
    );
    assert!(circles[25..].windows(2).all(|w| w[1].1 > w[0].1));
    png_colours(&figure.png().unwrap());
}
