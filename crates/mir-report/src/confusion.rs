//! The interactive confusion-matrix page of one (dataset, task, model, layer, probe).
//!
//! One self-contained HTML file: the data as inline JSON, the script and the style inline, no
//! network access, so it opens from disk. A heat map of the test confusion matrix (rows: true
//! class, columns: predicted class, shade: share of the row) for the deformation and seed
//! picked in two menus (also readable from the address: `page.html#deformation=mp3&seed=0`).
//! Clicking a cell lists its tracks, each with an audio player and a spectrogram of the
//! original audio and, where the run kept it, of the deformed audio.
//!
//! The predicted class of a track is the highest score (the first on ties), as in mir-eval.

use std::collections::{BTreeMap, BTreeSet};

use mir_table::{CLEAN, Prediction, Split, Track};
use serde::Serialize;

use crate::{Error, Result, RunKey, html_escape};

/// Links to one rendition of a track's audio, relative to the page.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Media {
    /// The audio file.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub audio: Option<String>,
    /// Its spectrogram image.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub spectrogram: Option<String>,
}

/// A track's media: the original audio and the deformed renditions the run kept.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TrackMedia {
    /// The original audio.
    pub original: Media,
    /// Deformed audio, by deformation name.
    pub deformed: BTreeMap<String, Media>,
}

#[derive(Serialize)]
struct PageTrack<'a> {
    id: &'a str,
    truth: usize,
    original: &'a Media,
    deformed: BTreeMap<&'a str, &'a Media>,
}

/// Per seed, per deformation, per test track: the predicted class and its score.
type Predicted<'a> = BTreeMap<String, BTreeMap<&'a str, Vec<Option<(usize, f32)>>>>;

#[derive(Serialize)]
struct PageData<'a> {
    title: String,
    labels: &'a [String],
    /// The name of the undeformed condition (`mir_table::CLEAN`).
    clean: &'static str,
    deformations: Vec<&'a str>,
    seeds: Vec<i64>,
    tracks: Vec<PageTrack<'a>>,
    /// seed -> deformation -> per track: [predicted class, its score], or null.
    predicted: Predicted<'a>,
}

pub use mir_audio::argmax;

/// The page of `run` (its seed is ignored: `predictions` holds every seed's test predictions
/// of a single-label task, `(seed, rows)`). `tracks` are the task's tracks (the test ones are
/// used), `vocabulary` the class labels in score order; `media` links each track's audio and
/// spectrograms (tracks without an entry are listed without players).
pub fn page(
    run: &RunKey,
    vocabulary: &[String],
    tracks: &[Track],
    predictions: &[(i64, Vec<Prediction>)],
    media: &BTreeMap<String, TrackMedia>,
) -> Result<String> {
    let none = TrackMedia::default();
    let (test, index) = test_tracks(tracks);
    let mut page_tracks = Vec::with_capacity(test.len());
    for t in &test {
        let [label] = t.labels.as_slice() else {
            return Err(Error::Input(format!(
                "track `{}` has {} labels: a confusion matrix needs exactly one per track",
                t.track_id,
                t.labels.len()
            )));
        };
        let truth = vocabulary.iter().position(|v| v == label).ok_or_else(|| {
            Error::Input(format!(
                "track `{}` is labelled `{label}`, which is not in the vocabulary",
                t.track_id
            ))
        })?;
        let m = media.get(&t.track_id).unwrap_or(&none);
        page_tracks.push(PageTrack {
            id: &t.track_id,
            truth,
            original: &m.original,
            deformed: m.deformed.iter().map(|(k, v)| (k.as_str(), v)).collect(),
        });
    }
    let mut deformations: BTreeSet<&str> = BTreeSet::new();
    let mut predicted: Predicted = BTreeMap::new();
    for (seed, rows) in predictions {
        let by_def = predicted.entry(seed.to_string()).or_default();
        for (i, p) in test_rows(rows, &index, vocabulary, "classes")? {
            deformations.insert(&p.deformation);
            let slot = by_def
                .entry(&p.deformation)
                .or_insert_with(|| vec![None; test.len()]);
            slot[i] = argmax(&p.scores).map(|c| (c, p.scores[c]));
        }
    }
    let mut deformations: Vec<&str> = deformations.into_iter().collect();
    deformations.sort_by_key(|d| (*d != CLEAN, *d));
    let title = format!(
        "{} ({}): {} layer {}, {}",
        run.task, run.dataset, run.model, run.layer, run.probe
    );
    let data = PageData {
        title: title.clone(),
        labels: vocabulary,
        clean: CLEAN,
        deformations,
        seeds: predictions.iter().map(|(s, _)| *s).collect(),
        tracks: page_tracks,
        predicted,
    };
    let json = serde_json::to_string(&data)
        .map_err(|e| Error::Input(format!("serialising the page data: {e}")))?
        // Inside <script>, `</script>` or `<!--` in a label would change how HTML parses the
        // element: no `<` at all (it can only occur inside JSON strings, as `\u003c`).
        .replace('<', "\\u003c");
    Ok(filled(TEMPLATE, &title, &json))
}

/// The test tracks, and each one's position among them by id.
pub(crate) fn test_tracks(tracks: &[Track]) -> (Vec<&Track>, BTreeMap<&str, usize>) {
    let test: Vec<&Track> = tracks.iter().filter(|t| t.split == Split::Test).collect();
    let index = (test.iter().enumerate())
        .map(|(i, t)| (t.track_id.as_str(), i))
        .collect();
    (test, index)
}

/// The test predictions of `rows` with the index of their track in `index` (others left
/// out), each checked to hold one score per name of `vocabulary` (`what` it names).
pub(crate) fn test_rows<'a>(
    rows: &'a [Prediction],
    index: &BTreeMap<&str, usize>,
    vocabulary: &[String],
    what: &str,
) -> Result<Vec<(usize, &'a Prediction)>> {
    let mut out = Vec::new();
    for p in rows.iter().filter(|p| p.split == Split::Test) {
        let Some(&i) = index.get(p.track_id.as_str()) else {
            continue;
        };
        if p.scores.len() != vocabulary.len() {
            return Err(Error::Input(format!(
                "prediction for track `{}` has {} scores for {} {what}",
                p.track_id,
                p.scores.len(),
                vocabulary.len()
            )));
        }
        out.push((i, p));
    }
    Ok(out)
}

/// `template` with its title, data and the shared track-list style and script filled in.
pub(crate) fn filled(template: &str, title: &str, json: &str) -> String {
    template
        .replace("{{TRACK_STYLE}}", TRACK_STYLE)
        .replace("{{TRACK_SCRIPT}}", TRACK_SCRIPT)
        .replace("{{TITLE}}", &html_escape(title))
        .replace("{{DATA}}", json)
}

/// The style of a page's track lists (shared with the tagging page).
const TRACK_STYLE: &str = r##".track { margin-bottom: 1rem; }
.renditions { display: flex; flex-wrap: wrap; gap: 1rem; }
figure { margin: 0.3rem 0; }
figcaption { font-size: 0.8rem; color: #555; }
figure img { display: block; width: 480px; height: 96px; }
.missing { color: #999; font-size: 0.8rem; }
"##;

/// `el` and `rendition`: a track's players and spectrograms (shared with the tagging page).
const TRACK_SCRIPT: &str = r##"function el(tag, attrs, text) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, v);
  if (text !== undefined) e.textContent = text;
  return e;
}

function rendition(caption, media) {
  const fig = el("figure");
  fig.append(el("figcaption", {}, caption));
  if (media && media.audio) {
    fig.append(el("audio", {controls: "", preload: "metadata", src: media.audio}));
  } else {
    fig.append(el("p", {class: "missing"}, "audio not kept"));
  }
  if (media && media.spectrogram) {
    fig.append(el("img", {src: media.spectrogram, alt: `spectrogram: ${caption}`}));
  }
  return fig;
}
"##;

const TEMPLATE: &str = r##"<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<link rel="icon" href="data:,">
<title>Confusion matrix: {{TITLE}}</title>
<style>
body { font-family: system-ui, sans-serif; margin: 1.5rem; color: #222; }
h1 { font-size: 1.3rem; }
.controls { display: flex; gap: 1.5rem; align-items: center; margin-bottom: 1rem; }
#matrix { border-collapse: collapse; font-size: 0.85rem; }
#matrix th { font-weight: 500; padding: 0.2rem 0.4rem; }
#matrix thead th { writing-mode: vertical-rl; transform: rotate(180deg); text-align: left; }
#matrix td { width: 2.2rem; height: 2.2rem; text-align: center; border: 1px solid #ddd; cursor: pointer; }
#matrix td.empty { cursor: default; color: #bbb; }
#matrix td.selected { outline: 3px solid #d62728; outline-offset: -3px; }
#matrix td:focus { outline: 2px solid #1f77b4; }
.axis { color: #666; font-size: 0.8rem; }
#tracks ol { padding-left: 1.2rem; }
{{TRACK_STYLE}}</style>
</head>
<body>
<h1>Confusion matrix: {{TITLE}}</h1>
<div class="controls">
<label>Deformation <select id="deformation"></select></label>
<label>Seed <select id="seed"></select></label>
<span id="summary"></span>
</div>
<p class="axis">Rows: true class. Columns: predicted class. Shade: share of the row. Click a cell to list and play its tracks.</p>
<table id="matrix"></table>
<section id="tracks"><p class="missing">No cell selected.</p></section>
<script type="application/json" id="data">{{DATA}}</script>
<script>
"use strict";
const data = JSON.parse(document.getElementById("data").textContent);
const defSelect = document.getElementById("deformation");
const seedSelect = document.getElementById("seed");
for (const d of data.deformations) defSelect.add(new Option(d, d));
for (const s of data.seeds) seedSelect.add(new Option(String(s), String(s)));
let selected = null;

function readHash() {
  const params = new URLSearchParams(location.hash.slice(1));
  const d = params.get("deformation"), s = params.get("seed");
  if (d !== null && data.deformations.includes(d)) defSelect.value = d;
  if (s !== null && data.seeds.map(String).includes(s)) seedSelect.value = s;
}

function predictions() {
  const bySeed = data.predicted[seedSelect.value] || {};
  return bySeed[defSelect.value] || [];
}

function renderMatrix() {
  const pred = predictions();
  const n = data.labels.length;
  const counts = Array.from({length: n}, () => new Array(n).fill(0));
  let total = 0, correct = 0;
  data.tracks.forEach((t, i) => {
    const p = pred[i];
    if (!p) return;
    counts[t.truth][p[0]] += 1;
    total += 1;
    if (p[0] === t.truth) correct += 1;
  });
  document.getElementById("summary").textContent = total
    ? `accuracy ${(correct / total).toFixed(3)} on ${total} test tracks` : "no test predictions";
  const table = document.getElementById("matrix");
  table.replaceChildren();
  const head = el("thead");
  const hr = el("tr");
  hr.append(el("th", {}, ""));
  for (const l of data.labels) hr.append(el("th", {scope: "col"}, l));
  head.append(hr);
  table.append(head);
  const body = el("tbody");
  counts.forEach((row, i) => {
    const tr = el("tr");
    tr.append(el("th", {scope: "row"}, data.labels[i]));
    const rowTotal = row.reduce((a, b) => a + b, 0);
    row.forEach((c, j) => {
      const td = el("td", {"data-true": String(i), "data-pred": String(j), title: `true ${data.labels[i]}, predicted ${data.labels[j]}: ${c}`}, c ? String(c) : "");
      const share = rowTotal ? c / rowTotal : 0;
      const hue = i === j ? "31, 119, 180" : "214, 39, 40";
      td.style.background = `rgba(${hue}, ${share.toFixed(3)})`;
      if (share > 0.5) td.style.color = "#fff";
      if (c) {
        td.tabIndex = 0;
        td.addEventListener("click", () => showCell(i, j));
        td.addEventListener("keydown", (e) => { if (e.key === "Enter") showCell(i, j); });
      } else {
        td.classList.add("empty");
      }
      if (selected && selected[0] === i && selected[1] === j) td.classList.add("selected");
      tr.append(td);
    });
    body.append(tr);
  });
  table.append(body);
}

{{TRACK_SCRIPT}}
function showCell(i, j) {
  selected = [i, j];
  const pred = predictions();
  const deformation = defSelect.value;
  const section = document.getElementById("tracks");
  section.replaceChildren();
  const items = data.tracks.map((t, k) => [t, pred[k]]).filter(([t, p]) => p && t.truth === i && p[0] === j);
  section.append(el("h2", {}, `True ${data.labels[i]}, predicted ${data.labels[j]}: ${items.length} track${items.length === 1 ? "" : "s"} (${deformation})`));
  const list = el("ol");
  for (const [t, p] of items) {
    const li = el("li", {class: "track", "data-track": t.id});
    li.append(el("strong", {}, t.id), document.createTextNode(` (score ${p[1].toFixed(3)})`));
    const r = el("div", {class: "renditions"});
    r.append(rendition("original", t.original));
    if (deformation !== data.clean) r.append(rendition(`deformed: ${deformation}`, t.deformed[deformation]));
    li.append(r);
    list.append(li);
  }
  section.append(list);
  renderMatrix();
}

function update() {
  location.hash = `deformation=${encodeURIComponent(defSelect.value)}&seed=${encodeURIComponent(seedSelect.value)}`;
}
defSelect.addEventListener("change", update);
seedSelect.addEventListener("change", update);
window.addEventListener("hashchange", () => {
  readHash();
  if (selected) showCell(selected[0], selected[1]); else renderMatrix();
});
readHash();
renderMatrix();
</script>
</body>
</html>
"##;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_cannot_break_out_of_the_data_script() {
        let nasty = "</script><!--<b>".to_owned();
        let vocabulary = vec![nasty.clone(), "b".to_owned()];
        let track = Track {
            track_id: "t<1>".into(),
            audio_uri: "a.wav".into(),
            split: Split::Test,
            labels: vec![nasty.clone()],
            targets: None,
            duration_s: 1.0,
            fold: None,
        };
        let prediction = Prediction {
            track_id: "t<1>".into(),
            split: Split::Test,
            deformation: CLEAN.into(),
            scores: vec![0.9, 0.1],
        };
        let run = RunKey {
            dataset: "d".into(),
            task: "t".into(),
            model: "m".into(),
            layer: 0,
            probe: "p".into(),
            seed: 0,
        };
        let html = page(
            &run,
            &vocabulary,
            &[track],
            &[(0, vec![prediction])],
            &BTreeMap::new(),
        )
        .unwrap();
        let start = html.find("id=\"data\">").unwrap() + "id=\"data\">".len();
        let json = &html[start..start + html[start..].find("</script>").unwrap()];
        assert!(!json.contains('<'));
        let data: serde_json::Value = serde_json::from_str(json).unwrap();
        assert_eq!(data["labels"][0], serde_json::json!(nasty));
        assert_eq!(data["tracks"][0]["id"], serde_json::json!("t<1>"));
        assert_eq!(data["predicted"]["0"]["clean"][0][0], serde_json::json!(0));
    }
}
