//! The tagging page of one multilabel (dataset, task, model, layer, probe, seed): the
//! counterpart of the confusion page.
//!
//! One self-contained HTML file (inline data, script and style; nothing from the network).
//! A menu of tags and one of deformations (also read from the address:
//! `page.html#tag=rock&deformation=mp3`); for the chosen pair, the tag's ROC and
//! precision-recall curves over the test tracks, and its most confident errors: the false
//! positives (tracks without the tag whose score is at least [`THRESHOLD`], highest first) and
//! the false negatives (tracks with it scored below, lowest first), at most [`LISTED`] each,
//! every one with players and spectrograms as on the confusion page.

use std::collections::{BTreeMap, BTreeSet};

use mir_table::{CLEAN, Prediction, Track};
use serde::Serialize;

use crate::confusion::{Media, TrackMedia};
use crate::{Error, Result, RunKey};

/// The score from which a tag counts as predicted (mir-eval's default `threshold`).
pub const THRESHOLD: f32 = 0.5;

/// The most confident errors listed per tag and kind.
pub const LISTED: usize = 10;

#[derive(Serialize)]
struct PageTrack<'a> {
    id: &'a str,
    original: &'a Media,
    deformed: BTreeMap<&'a str, &'a Media>,
}

/// One tag under one condition: curve points and the listed errors as (track, score).
#[derive(Serialize)]
struct TagView {
    roc: Vec<(f64, f64)>,
    pr: Vec<(f64, f64)>,
    false_positives: Vec<(usize, f32)>,
    false_negatives: Vec<(usize, f32)>,
}

#[derive(Serialize)]
struct PageData<'a> {
    title: String,
    tags: &'a [String],
    clean: &'static str,
    threshold: f32,
    deformations: Vec<&'a str>,
    tracks: Vec<PageTrack<'a>>,
    /// deformation -> per tag.
    views: BTreeMap<&'a str, Vec<TagView>>,
}

/// The page of `run` from its test `predictions`; `tracks` give the tags (`vocabulary`, in
/// score order), `media` the players and spectrograms.
pub fn page(
    run: &RunKey,
    vocabulary: &[String],
    tracks: &[Track],
    predictions: &[Prediction],
    media: &BTreeMap<String, TrackMedia>,
) -> Result<String> {
    let none = TrackMedia::default();
    let (test, index) = crate::confusion::test_tracks(tracks);
    let mut by_condition: BTreeMap<&str, Vec<Option<&[f32]>>> = BTreeMap::new();
    for (i, p) in crate::confusion::test_rows(predictions, &index, vocabulary, "tags")? {
        by_condition
            .entry(&p.deformation)
            .or_insert_with(|| vec![None; test.len()])[i] = Some(&p.scores);
    }
    let views = (by_condition.iter())
        .map(|(d, scores)| (*d, tag_views(vocabulary, &test, scores)))
        .collect();
    let mut deformations: Vec<&str> = by_condition.keys().copied().collect();
    deformations.sort_by_key(|d| (*d != CLEAN, *d));
    let title = format!(
        "{} ({}): {} layer {}, {}, seed {}",
        run.task, run.dataset, run.model, run.layer, run.probe, run.seed
    );
    let tracks = (test.iter())
        .map(|t| {
            let m = media.get(&t.track_id).unwrap_or(&none);
            PageTrack {
                id: &t.track_id,
                original: &m.original,
                deformed: m.deformed.iter().map(|(k, v)| (k.as_str(), v)).collect(),
            }
        })
        .collect();
    let data = PageData {
        title: title.clone(),
        tags: vocabulary,
        clean: CLEAN,
        threshold: THRESHOLD,
        deformations,
        tracks,
        views,
    };
    let json = serde_json::to_string(&data)
        .map_err(|e| Error::Input(format!("serialising the page data: {e}")))?
        .replace('<', "\\u003c");
    Ok(crate::confusion::filled(TEMPLATE, &title, &json))
}

/// Every tag's curves and errors over the tracks with a score.
fn tag_views(vocabulary: &[String], test: &[&Track], scores: &[Option<&[f32]>]) -> Vec<TagView> {
    (0..vocabulary.len())
        .map(|j| {
            let rows: Vec<(usize, bool, f32)> = (test.iter().zip(scores).enumerate())
                .filter_map(|(i, (t, s))| {
                    s.map(|s| (i, t.labels.iter().any(|l| *l == vocabulary[j]), s[j]))
                })
                .collect();
            let (roc, pr) = curves(&rows);
            let mut fp: Vec<(usize, f32)> = (rows.iter())
                .filter(|(_, has, s)| !has && *s >= THRESHOLD)
                .map(|&(i, _, s)| (i, s))
                .collect();
            fp.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
            let mut fn_: Vec<(usize, f32)> = (rows.iter())
                .filter(|(_, has, s)| *has && *s < THRESHOLD)
                .map(|&(i, _, s)| (i, s))
                .collect();
            fn_.sort_by(|a, b| a.1.total_cmp(&b.1).then(a.0.cmp(&b.0)));
            fp.truncate(LISTED);
            fn_.truncate(LISTED);
            TagView {
                roc,
                pr,
                false_positives: fp,
                false_negatives: fn_,
            }
        })
        .collect()
}

/// ROC points `(false positive rate, true positive rate)` and precision-recall points
/// `(recall, precision)` at every distinct score, highest first; none without both a positive
/// and a negative.
type Curve = Vec<(f64, f64)>;

fn curves(rows: &[(usize, bool, f32)]) -> (Curve, Curve) {
    let positives = rows.iter().filter(|r| r.1).count() as f64;
    let negatives = rows.len() as f64 - positives;
    if positives == 0.0 || negatives == 0.0 {
        return (vec![], vec![]);
    }
    let mut sorted: Vec<&(usize, bool, f32)> = rows.iter().collect();
    sorted.sort_by(|a, b| b.2.total_cmp(&a.2));
    let (mut roc, mut pr) = (vec![(0.0, 0.0)], vec![]);
    let (mut tp, mut fp) = (0.0, 0.0);
    let distinct: BTreeSet<usize> = (1..sorted.len())
        .filter(|&k| sorted[k].2 != sorted[k - 1].2)
        .chain(std::iter::once(sorted.len()))
        .collect();
    for (k, r) in sorted.iter().enumerate() {
        if r.1 {
            tp += 1.0
        } else {
            fp += 1.0
        }
        if distinct.contains(&(k + 1)) {
            roc.push((fp / negatives, tp / positives));
            pr.push((tp / positives, tp / (tp + fp)));
        }
    }
    (roc, pr)
}

const TEMPLATE: &str = r##"<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<link rel="icon" href="data:,">
<title>Tags: {{TITLE}}</title>
<style>
body { font-family: system-ui, sans-serif; margin: 1.5rem; color: #222; }
h1 { font-size: 1.3rem; }
.controls { display: flex; gap: 1.5rem; align-items: center; margin-bottom: 1rem; }
.curves { display: flex; gap: 2rem; }
svg { border: 1px solid #ddd; background: #fff; }
svg polyline { fill: none; stroke-width: 2; }
.errors { display: flex; gap: 2rem; flex-wrap: wrap; }
.errors section { flex: 1; min-width: 30rem; }
{{TRACK_STYLE}}</style>
</head>
<body>
<h1>Tags: {{TITLE}}</h1>
<div class="controls">
<label>Tag <select id="tag"></select></label>
<label>Deformation <select id="deformation"></select></label>
</div>
<div class="curves">
<figure><figcaption>ROC: true against false positive rate (dashed: chance)</figcaption><svg id="roc" width="260" height="260" viewBox="0 0 260 260"></svg></figure>
<figure><figcaption>Precision against recall (dashed: the tag's share)</figcaption><svg id="pr" width="260" height="260" viewBox="0 0 260 260"></svg></figure>
</div>
<div class="errors">
<section><h2 id="fp-title"></h2><ol id="false-positives"></ol></section>
<section><h2 id="fn-title"></h2><ol id="false-negatives"></ol></section>
</div>
<script type="application/json" id="data">{{DATA}}</script>
<script>
"use strict";
const data = JSON.parse(document.getElementById("data").textContent);
const tagSelect = document.getElementById("tag");
const defSelect = document.getElementById("deformation");
data.tags.forEach((t, i) => tagSelect.add(new Option(t, String(i))));
for (const d of data.deformations) defSelect.add(new Option(d, d));
const SVG = "http://www.w3.org/2000/svg";

function readHash() {
  const params = new URLSearchParams(location.hash.slice(1));
  const t = data.tags.indexOf(params.get("tag")), d = params.get("deformation");
  if (t >= 0) tagSelect.value = String(t);
  if (d !== null && data.deformations.includes(d)) defSelect.value = d;
}

function line(svg, points, colour, dashed) {
  const p = document.createElementNS(SVG, "polyline");
  p.setAttribute("points", points.map(([x, y]) => `${10 + 240 * x},${250 - 240 * y}`).join(" "));
  p.setAttribute("stroke", colour);
  if (dashed) p.setAttribute("stroke-dasharray", "4 4");
  svg.append(p);
}

function plot(id, points, reference) {
  const svg = document.getElementById(id);
  svg.replaceChildren();
  line(svg, [[0, 0], [1, 0], [1, 1], [0, 1], [0, 0]], "#bbb", false);
  line(svg, reference, "#999", true);
  if (points.length) line(svg, points, "#1f77b4", false);
}

{{TRACK_SCRIPT}}
function list(id, titleId, title, errors, deformation) {
  document.getElementById(titleId).textContent = `${title}: ${errors.length}`;
  const ol = document.getElementById(id);
  ol.replaceChildren();
  for (const [k, score] of errors) {
    const t = data.tracks[k];
    const li = el("li", {class: "track", "data-track": t.id});
    li.append(el("strong", {}, t.id), document.createTextNode(` (score ${score.toFixed(3)})`));
    const r = el("div", {class: "renditions"});
    r.append(rendition("original", t.original));
    if (deformation !== data.clean) r.append(rendition(`deformed: ${deformation}`, t.deformed[deformation]));
    li.append(r);
    ol.append(li);
  }
}

function render() {
  const deformation = defSelect.value, tag = Number(tagSelect.value);
  const view = (data.views[deformation] || [])[tag];
  if (!view) return;
  const share = view.pr.length ? view.pr[view.pr.length - 1][1] : 0;
  plot("roc", view.roc, [[0, 0], [1, 1]]);
  plot("pr", view.pr, [[0, share], [1, share]]);
  const name = data.tags[tag];
  list("false-positives", "fp-title", `Most confident false positives (no ${name}, score ≥ ${data.threshold})`, view.false_positives, deformation);
  list("false-negatives", "fn-title", `Most confident false negatives (${name}, score < ${data.threshold})`, view.false_negatives, deformation);
}

function update() {
  location.hash = `tag=${encodeURIComponent(data.tags[Number(tagSelect.value)])}&deformation=${encodeURIComponent(defSelect.value)}`;
}
tagSelect.addEventListener("change", update);
defSelect.addEventListener("change", update);
window.addEventListener("hashchange", () => { readHash(); render(); });
readHash();
render();
</script>
</body>
</html>
"##;
