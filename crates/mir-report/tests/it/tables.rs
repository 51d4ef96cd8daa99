//! Each preset on the fixed metrics table gives an exact Markdown table (values checked by
//! hand against the fixture's formula: clean = 0.5 + 0.1 system + 0.05 probe - 0.2 task,
//! minus the deformation's drop).

use mir_report::pivot::{Preset, pivot, tables_csv, tables_markdown};

use crate::fixture;

fn markdown(preset: Preset, metric: Option<&str>) -> String {
    tables_markdown(&pivot(&fixture(), preset, metric))
}

#[test]
fn overview_preset() {
    let expected = "\
### Overview: dataset ds

| model | layer | probe | genre (accuracy) | key (mirex_weighted) |
|---|---|---|---|---|
| a | 0 | linear | 0.510 ± 0.014 | 0.300 [0.200, 0.400] |
| a | 0 | mlp | 0.550 [0.450, 0.650] | 0.350 [0.250, 0.450] |
| b | 0 | linear | 0.600 [0.500, 0.700] | 0.400 [0.300, 0.500] |
| b | 0 | mlp | 0.650 [0.550, 0.750] | 0.450 [0.350, 0.550] |
| b | 1 | linear | 0.700 [0.600, 0.800] | 0.500 [0.400, 0.600] |
| b | 1 | mlp | **0.750 [0.650, 0.850]** | **0.550 [0.450, 0.650]** |
";
    assert_eq!(markdown(Preset::Overview, None), expected);
}

#[test]
fn robustness_preset() {
    let expected = "\
### Robustness: dataset ds, task genre, metric accuracy

| model | layer | probe | clean | noise_10db | noise_20db |
|---|---|---|---|---|---|
| a | 0 | linear | 0.510 ± 0.014 | 0.260 ± 0.014 (Δ -0.240) | 0.410 ± 0.014 (Δ -0.090) |
| a | 0 | mlp | 0.550 [0.450, 0.650] | 0.300 [0.200, 0.400] (Δ -0.250) | 0.450 [0.350, 0.550] (Δ -0.100) |
| b | 0 | linear | 0.600 [0.500, 0.700] | 0.350 [0.250, 0.450] (Δ -0.250) | 0.500 [0.400, 0.600] (Δ -0.100) |
| b | 0 | mlp | 0.650 [0.550, 0.750] | 0.400 [0.300, 0.500] (Δ -0.250) | 0.550 [0.450, 0.650] (Δ -0.100) |
| b | 1 | linear | 0.700 [0.600, 0.800] | 0.450 [0.350, 0.550] (Δ -0.250) | 0.600 [0.500, 0.700] (Δ -0.100) |
| b | 1 | mlp | **0.750 [0.650, 0.850]** | **0.500 [0.400, 0.600] (Δ -0.250)** | **0.650 [0.550, 0.750] (Δ -0.100)** |

### Robustness: dataset ds, task key, metric mirex_weighted

| model | layer | probe | clean | noise_10db | noise_20db |
|---|---|---|---|---|---|
| a | 0 | linear | 0.300 [0.200, 0.400] | 0.050 [-0.050, 0.150] (Δ -0.250) | 0.200 [0.100, 0.300] (Δ -0.100) |
| a | 0 | mlp | 0.350 [0.250, 0.450] | 0.100 [0.000, 0.200] (Δ -0.250) | 0.250 [0.150, 0.350] (Δ -0.100) |
| b | 0 | linear | 0.400 [0.300, 0.500] | 0.150 [0.050, 0.250] (Δ -0.250) | 0.300 [0.200, 0.400] (Δ -0.100) |
| b | 0 | mlp | 0.450 [0.350, 0.550] | 0.200 [0.100, 0.300] (Δ -0.250) | 0.350 [0.250, 0.450] (Δ -0.100) |
| b | 1 | linear | 0.500 [0.400, 0.600] | 0.250 [0.150, 0.350] (Δ -0.250) | 0.400 [0.300, 0.500] (Δ -0.100) |
| b | 1 | mlp | **0.550 [0.450, 0.650]** | **0.300 [0.200, 0.400] (Δ -0.250)** | **0.450 [0.350, 0.550] (Δ -0.100)** |
";
    assert_eq!(markdown(Preset::Robustness, None), expected);
}

#[test]
fn probes_preset() {
    let expected = "\
### Probes: dataset ds, task genre, metric accuracy

| model | layer | linear | mlp |
|---|---|---|---|
| a | 0 | 0.510 ± 0.014 | 0.550 [0.450, 0.650] |
| b | 0 | 0.600 [0.500, 0.700] | 0.650 [0.550, 0.750] |
| b | 1 | **0.700 [0.600, 0.800]** | **0.750 [0.650, 0.850]** |

### Probes: dataset ds, task key, metric mirex_weighted

| model | layer | linear | mlp |
|---|---|---|---|
| a | 0 | 0.300 [0.200, 0.400] | 0.350 [0.250, 0.450] |
| b | 0 | 0.400 [0.300, 0.500] | 0.450 [0.350, 0.550] |
| b | 1 | **0.500 [0.400, 0.600]** | **0.550 [0.450, 0.650]** |
";
    assert_eq!(markdown(Preset::Probes, None), expected);
}

#[test]
fn layers_preset() {
    let expected = "\
### Layers: model b, probe linear, dataset ds

| layer | genre (accuracy) | key (mirex_weighted) |
|---|---|---|
| 0 | 0.600 [0.500, 0.700] | 0.400 [0.300, 0.500] |
| 1 | **0.700 [0.600, 0.800]** | **0.500 [0.400, 0.600]** |

### Layers: model b, probe mlp, dataset ds

| layer | genre (accuracy) | key (mirex_weighted) |
|---|---|---|
| 0 | 0.650 [0.550, 0.750] | 0.450 [0.350, 0.550] |
| 1 | **0.750 [0.650, 0.850]** | **0.550 [0.450, 0.650]** |
";
    assert_eq!(markdown(Preset::Layers, None), expected);
}

#[test]
fn a_chosen_metric_replaces_the_primary_one_where_the_task_has_it() {
    let md = markdown(Preset::Probes, Some("accuracy"));
    // `key` has accuracy too (0.03 below its MIREX score); `genre` only has accuracy.
    assert!(
        md.contains("### Probes: dataset ds, task key, metric accuracy"),
        "{md}"
    );
    assert!(
        md.contains("| a | 0 | 0.270 [0.170, 0.370] | 0.320 [0.220, 0.420] |"),
        "{md}"
    );
    assert!(
        md.contains("### Probes: dataset ds, task genre, metric accuracy"),
        "{md}"
    );
    // A metric no task has falls back to each task's primary metric.
    assert_eq!(
        markdown(Preset::Probes, Some("r2")),
        markdown(Preset::Probes, None)
    );
}

#[test]
fn layers_needs_a_model_with_several_layers() {
    let single: Vec<_> = fixture().into_iter().filter(|r| r.layer == 0).collect();
    assert!(pivot(&single, Preset::Layers, None).is_empty());
    // Constant identifiers move to the title: one probe and one model leave one row column.
    let one: Vec<_> = single
        .into_iter()
        .filter(|r| r.probe == "mlp" && r.model == "b")
        .collect();
    let md = tables_markdown(&pivot(&one, Preset::Probes, None));
    assert!(
        md.starts_with("### Probes: dataset ds, task genre, layer 0, metric accuracy\n"),
        "{md}"
    );
    assert!(
        md.contains("| model | mlp |\n|---|---|\n| b | **0.650 [0.550, 0.750]** |\n"),
        "{md}"
    );
}

#[test]
fn csv_has_a_line_per_cell_with_interval_delta_and_best() {
    let tables = pivot(&fixture(), Preset::Robustness, None);
    let csv = tables_csv(&tables).unwrap();
    let mut reader = csv::Reader::from_reader(csv.as_bytes());
    let header: Vec<String> = reader
        .headers()
        .unwrap()
        .iter()
        .map(str::to_owned)
        .collect();
    assert_eq!(
        header.join(","),
        "preset,table,row,column,metric,mean,ci_low,ci_high,std,seeds,n,delta,delta_low,delta_high,best,p_holm"
    );
    let records: Vec<csv::StringRecord> = reader.records().map(Result::unwrap).collect();
    // Two tasks x 6 systems x 3 deformations.
    assert_eq!(records.len(), 36);
    let line = records
        .iter()
        .find(|r| &r[2] == "b / 1 / mlp" && &r[3] == "noise_20db" && &r[4] == "mirex_weighted")
        .unwrap();
    let num = |i: usize| line[i].parse::<f64>().unwrap();
    assert!((num(5) - 0.45).abs() < 1e-12 && (num(6) - 0.35).abs() < 1e-12);
    assert!((num(11) + 0.1).abs() < 1e-12 && (num(12) + 0.15).abs() < 1e-12);
    assert_eq!(&line[14], "true");
    let seeds = records
        .iter()
        .find(|r| &r[2] == "a / 0 / linear" && &r[3] == "clean")
        .unwrap();
    assert_eq!((&seeds[8][..6], &seeds[9], &seeds[6]), ("0.0141", "2", ""));
}

#[test]
fn html_marks_the_best_cells_and_escapes_names() {
    let mut rows = fixture();
    rows.iter_mut()
        .for_each(|r| r.model = r.model.replace('a', "<a&b>"));
    let html = pivot(&rows, Preset::Overview, None)[0].html();
    assert!(
        html.contains("<th scope=\"row\">&lt;a&amp;b&gt;</th>"),
        "{html}"
    );
    assert_eq!(html.matches("class=\"best\"").count(), 2);
    assert!(!html.contains("<a&b>"));
}

#[test]
fn unknown_presets_are_named_with_the_known_ones() {
    let err = "robust".parse::<Preset>().unwrap_err().to_string();
    assert_eq!(
        err,
        "unknown table preset `robust` (known: overview, robustness, probes, layers, regression, tags, significance, duplicates)"
    );
    assert_eq!("layers".parse::<Preset>().unwrap(), Preset::Layers);
}

/// A regression task's table: R², Pearson and Spearman averaged, then per target, clean audio;
/// error metrics (MAE) and the classification tasks stay out.
#[test]
fn regression_preset() {
    let mut rows = fixture();
    for (model, base) in [("a", 0.5), ("b", 0.6)] {
        for (k, metric) in ["r2", "pearson", "spearman", "mae"].into_iter().enumerate() {
            let value = base + 0.1 * k as f64;
            for (name, v) in [
                (metric.to_string(), value),
                (format!("{metric}/arousal"), value + 0.01),
                (format!("{metric}/valence"), value - 0.01),
            ] {
                for deformation in ["clean", "noise_10db"] {
                    rows.push(crate::row(
                        "emo",
                        (model, 0, "linear"),
                        deformation,
                        &name,
                        v,
                    ));
                }
            }
        }
    }
    let expected = "\
### Regression: dataset ds, task emo, layer 0, probe linear

| model | r2 | r2/arousal | r2/valence | pearson | pearson/arousal | pearson/valence | spearman | spearman/arousal | spearman/valence |
|---|---|---|---|---|---|---|---|---|---|
| a | 0.500 | 0.510 | 0.490 | 0.600 | 0.610 | 0.590 | 0.700 | 0.710 | 0.690 |
| b | **0.600** | **0.610** | **0.590** | **0.700** | **0.710** | **0.690** | **0.800** | **0.810** | **0.790** |
";
    assert_eq!(
        tables_markdown(&pivot(&rows, Preset::Regression, None)),
        expected
    );
    assert!(pivot(&fixture(), Preset::Regression, None).is_empty());
    // One target: its per-target columns would repeat the averages.
    let one: Vec<_> = rows
        .into_iter()
        .filter(|r| !r.metric.ends_with("/valence"))
        .collect();
    let md = tables_markdown(&pivot(&one, Preset::Regression, None));
    assert!(md.contains("| model | r2 | pearson | spearman |\n"), "{md}");
}

/// A tagging task's table: a row per tag under the macro averages, a column per system and
/// metric (ROC-AUC, then PR-AUC); micro averages, F1 and the other tasks stay out.
#[test]
fn tags_preset() {
    let mut rows = fixture();
    for (model, base) in [("a", 0.7), ("b", 0.8)] {
        let metrics = [
            ("roc_auc_macro", base),
            ("pr_auc_macro", base - 0.3),
            ("roc_auc_micro", 0.99),
            ("f1_macro", 0.5),
            ("roc_auc/rock", base + 0.1),
            ("average_precision/rock", base - 0.2),
            ("roc_auc/jazz", base - 0.1),
            ("average_precision/jazz", base - 0.4),
        ];
        for (metric, v) in metrics {
            rows.push(crate::row("tags", (model, 0, "linear"), "clean", metric, v));
        }
    }
    let expected = "\
### Tags: dataset ds, task tags, layer 0, probe linear

| tag | a / roc_auc | a / pr_auc | b / roc_auc | b / pr_auc |
|---|---|---|---|---|
| macro | 0.700 | 0.400 | 0.800 | 0.500 |
| jazz | 0.600 | 0.300 | 0.700 | 0.400 |
| rock | 0.800 | 0.500 | 0.900 | 0.600 |
";
    assert_eq!(tables_markdown(&pivot(&rows, Preset::Tags, None)), expected);
    assert!(pivot(&fixture(), Preset::Tags, None).is_empty());
}
