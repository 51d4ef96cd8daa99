//! A real headless browser opens a generated confusion-matrix page from disk, clicks a cell,
//! and checks the listed tracks, that every audio element loads its (real WAV) source, that
//! the spectrograms load, that the deformation menu switches the matrix, and that nothing was
//! written to the console. A screenshot is saved under `CARGO_TARGET_TMPDIR`.
//!
//! The browser is Debian's `chromium` (or `MIRREF_CHROMIUM`), driven over the DevTools
//! protocol. Without one the test is skipped, unless `MIRREF_REQUIRE_BROWSER=1` (set by
//! `cargo xtask ci`, which installs chromium), where it fails.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::{Duration, Instant};

use mir_report::confusion::{Media, TrackMedia, argmax, page};
use mir_report::{RunKey, Slug};
use mir_table::{Prediction, Split, Track};
use serde_json::{Value, json};

use mir_testkit::browser::{Browser, required_browser};

const LABELS: [&str; 3] = ["cello", "flute", "trumpet"];
const SR: u32 = 22050;

/// Writes a tone of `seconds` as a 16-bit WAV.
fn tone(path: &Path, hz: f32, seconds: f32) -> Vec<f32> {
    let spec = hound::WavSpec {
        channels: 1,
        sample_rate: SR,
        bits_per_sample: 16,
        sample_format: hound::SampleFormat::Int,
    };
    let samples: Vec<f32> = (0..(seconds * SR as f32) as usize)
        .map(|i| 0.5 * (2.0 * std::f32::consts::PI * hz * i as f32 / SR as f32).sin())
        .collect();
    let mut w = hound::WavWriter::create(path, spec).unwrap();
    for s in &samples {
        w.write_sample((s * 32767.0) as i16).unwrap();
    }
    w.finalize().unwrap();
    samples
}

/// A task's tracks, its predictions per seed, and the media of each track.
type Experiment = (
    Vec<Track>,
    Vec<(i64, Vec<Prediction>)>,
    BTreeMap<String, TrackMedia>,
);

/// Twelve test tracks (four per class) with predictions on clean audio and under `noise`:
/// scores chosen so that some tracks are confused, differently per deformation.
fn experiment(dir: &Path) -> Experiment {
    std::fs::create_dir_all(dir.join("audio/clean")).unwrap();
    std::fs::create_dir_all(dir.join("audio/noise")).unwrap();
    std::fs::create_dir_all(dir.join("report/media")).unwrap();
    let mut tracks = Vec::new();
    let mut predictions = Vec::new();
    let mut media = BTreeMap::new();
    for i in 0..12 {
        let class = i % 3;
        let id = format!("{}_{i:02}", LABELS[class]);
        let seconds = 0.5 + 0.1 * i as f32;
        let samples = tone(
            &dir.join(format!("audio/clean/{id}.wav")),
            220.0 * (1 + class) as f32,
            seconds,
        );
        std::fs::write(
            dir.join(format!("report/media/{id}.png")),
            mir_report::spectrogram::Renderer::new(SR)
                .unwrap()
                .png(&samples)
                .unwrap(),
        )
        .unwrap();
        let mut m = TrackMedia {
            original: Media {
                audio: Some(format!("../../audio/clean/{id}.wav")),
                spectrogram: Some(format!("../media/{id}.png")),
            },
            deformed: BTreeMap::new(),
        };
        // The deformed audio is kept for the even tracks only.
        if i % 2 == 0 {
            tone(&dir.join(format!("audio/noise/{id}.wav")), 110.0, seconds);
            m.deformed.insert(
                "noise".into(),
                Media {
                    audio: Some(format!("../../audio/noise/{id}.wav")),
                    spectrogram: None,
                },
            );
        }
        media.insert(id.clone(), m);
        tracks.push(Track {
            track_id: id.clone(),
            audio_uri: format!("audio/clean/{id}.wav"),
            split: Split::Test,
            labels: vec![LABELS[class].into()],
            targets: None,
            duration_s: f64::from(seconds),
            fold: None,
        });
        // Clean: tracks 4 and 7 confused with the next class; noise: the flutes and two cellos.
        for (deformation, wrong) in [
            ("clean", i == 4 || i == 7),
            ("noise", i % 3 == 1 || i == 0 || i == 9),
        ] {
            let predicted = if wrong { (class + 1) % 3 } else { class };
            let mut scores = vec![0.1f32; 3];
            scores[predicted] = 0.8;
            predictions.push(Prediction {
                track_id: id.clone(),
                split: Split::Test,
                deformation: deformation.into(),
                scores,
            });
        }
    }
    // A training track is not listed.
    tracks.push(Track {
        split: Split::Train,
        track_id: "train_only".into(),
        ..tracks[0].clone()
    });
    (tracks, vec![(0, predictions)], media)
}

/// The tracks the page must list for (true, predicted) under `deformation`, computed here.
fn expected(
    tracks: &[Track],
    predictions: &[Prediction],
    deformation: &str,
    t: usize,
    p: usize,
) -> Vec<String> {
    let truth: BTreeMap<&str, usize> = tracks
        .iter()
        .map(|tr| {
            (
                tr.track_id.as_str(),
                LABELS.iter().position(|l| *l == tr.labels[0]).unwrap(),
            )
        })
        .collect();
    predictions
        .iter()
        .filter(|pr| pr.deformation == deformation && pr.split == Split::Test)
        .filter(|pr| truth[pr.track_id.as_str()] == t && argmax(&pr.scores) == Some(p))
        .map(|pr| pr.track_id.clone())
        .collect()
}

/// The run a test page belongs to: log-mel, linear probe, seed 0, on `task` of `ds`.
fn run_key(task: &str) -> RunKey {
    RunKey {
        dataset: "ds".into(),
        task: task.into(),
        model: "logmel".into(),
        layer: 0,
        probe: "linear".into(),
        seed: 0,
    }
}

#[test]
fn confusion_page_lists_and_plays_the_tracks_of_a_clicked_cell() {
    let Some(binary) = required_browser() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let (tracks, predictions, media) = experiment(dir.path());
    let run = run_key("instrument");
    let labels: Vec<String> = LABELS.iter().map(|s| s.to_string()).collect();
    let html = page(&run, &labels, &tracks, &predictions, &media).unwrap();
    let confusion = dir.path().join("report/confusion");
    std::fs::create_dir_all(&confusion).unwrap();
    let file = confusion.join(format!("{}.html", run.slug_without_seed()));
    std::fs::write(&file, html).unwrap();

    let mut browser = Browser::start(&binary);
    let url = format!("file://{}#deformation=noise&seed=0", file.display());
    let session = browser.open(&url);
    let s = session.as_str();

    // The menus start on the deformation in the address.
    assert_eq!(
        browser.eval(s, "document.getElementById('deformation').value"),
        json!("noise")
    );
    let summary = browser.eval(s, "document.getElementById('summary').textContent");
    assert_eq!(
        summary,
        json!("accuracy 0.500 on 12 test tracks"),
        "6 of 12 right under noise"
    );

    // Under noise, true cello (0) predicted as flute (1): tracks 0 and 9.
    let want = expected(&tracks, &predictions[0].1, "noise", 0, 1);
    assert_eq!(want, ["cello_00", "cello_09"]);
    browser.eval(
        s,
        "document.querySelector('td[data-true=\"0\"][data-pred=\"1\"]').click()",
    );
    let listed = browser.eval(
        s,
        "[...document.querySelectorAll('#tracks li.track')].map(li => li.dataset.track)",
    );
    assert_eq!(listed, json!(want));
    // Each listed track: the original and the deformed player where the audio was kept.
    let audio = browser.eval(
        s,
        r#"Promise.all([...document.querySelectorAll('#tracks audio')].map(a => new Promise(done => {
             const report = () => done({src: a.getAttribute('src'), ready: a.readyState,
               duration: a.duration, error: a.error ? a.error.code : null,
               canPlay: a.canPlayType('audio/wav')});
             if (a.readyState >= 1) report();
             else { a.addEventListener('loadedmetadata', report); a.addEventListener('error', report); a.load(); }
           })))"#,
    );
    let audio = audio.as_array().unwrap();
    assert_eq!(
        audio.len(),
        3,
        "cello_00: original + noise; cello_09: original only: {audio:?}"
    );
    for a in audio {
        assert_eq!(a["error"], Value::Null, "{a}");
        assert!(a["ready"].as_u64().unwrap() >= 1, "{a}");
        assert_ne!(a["canPlay"], json!(""), "{a}");
    }
    let durations: Vec<f64> = audio
        .iter()
        .map(|a| a["duration"].as_f64().unwrap())
        .collect();
    for (d, want) in durations.iter().zip([0.5, 0.5, 1.4]) {
        assert!((d - want).abs() < 0.01, "durations {durations:?}");
    }
    assert_eq!(
        browser.eval(
            s,
            "[...document.querySelectorAll('#tracks .missing')].length"
        ),
        json!(1),
        "cello_09 has no kept deformed audio"
    );
    let images = browser.eval(
        s,
        "Promise.all([...document.querySelectorAll('#tracks img')].map(i => i.decode().then(() => i.naturalHeight)))",
    );
    assert_eq!(images, json!([96, 96]));

    browser.screenshot(
        s,
        &Path::new(env!("CARGO_TARGET_TMPDIR")).join("confusion_matrix.png"),
    );

    // Switching to clean audio changes the matrix and the listed tracks.
    browser.eval(
        s,
        "const d = document.getElementById('deformation'); d.value = 'clean'; d.dispatchEvent(new Event('change')); \
         new Promise(r => setTimeout(r, 50))",
    );
    let summary = browser.eval(s, "document.getElementById('summary').textContent");
    assert_eq!(summary, json!("accuracy 0.833 on 12 test tracks"));
    assert!(
        browser
            .eval(s, "location.hash")
            .as_str()
            .unwrap()
            .contains("deformation=clean")
    );
    let listed = browser.eval(
        s,
        "[...document.querySelectorAll('#tracks li.track')].map(li => li.dataset.track)",
    );
    assert_eq!(
        listed,
        json!(expected(&tracks, &predictions[0].1, "clean", 0, 1))
    );
    let diagonal = browser.eval(
        s,
        "document.querySelector('td[data-true=\"1\"][data-pred=\"1\"]').textContent",
    );
    assert_eq!(
        diagonal,
        json!("2"),
        "flute_04 and flute_07 are confused on clean audio"
    );

    // Give late resource errors a moment to arrive, then require a clean console.
    let deadline = Instant::now() + Duration::from_millis(300);
    while Instant::now() < deadline {
        browser.eval(s, "new Promise(r => setTimeout(r, 50))");
    }
    assert!(
        browser.errors().is_empty(),
        "console: {:#?}",
        browser.errors()
    );
}

const TAGS: [&str; 3] = ["bright", "dark", "loud"];

/// Ten test tracks with tags and scores: track `i` has `bright` when `i % 2 == 0` and `loud`
/// when `i % 3 == 0`; scores spread so that some of each are wrong, under clean audio and
/// `noise`, whose audio is kept for every track.
fn tagged(dir: &Path) -> Experiment {
    std::fs::create_dir_all(dir.join("audio/clean")).unwrap();
    std::fs::create_dir_all(dir.join("audio/noise")).unwrap();
    std::fs::create_dir_all(dir.join("report/media")).unwrap();
    let (mut tracks, mut predictions, mut media) = (Vec::new(), Vec::new(), BTreeMap::new());
    for i in 0..10usize {
        let id = format!("song_{i:02}");
        let samples = tone(
            &dir.join(format!("audio/clean/{id}.wav")),
            200.0 + 30.0 * i as f32,
            0.6,
        );
        tone(&dir.join(format!("audio/noise/{id}.wav")), 100.0, 0.6);
        std::fs::write(
            dir.join(format!("report/media/{id}.png")),
            mir_report::spectrogram::Renderer::new(SR)
                .unwrap()
                .png(&samples)
                .unwrap(),
        )
        .unwrap();
        let link = |c: &str| Some(format!("../../audio/{c}/{id}.wav"));
        media.insert(
            id.clone(),
            TrackMedia {
                original: Media {
                    audio: link("clean"),
                    spectrogram: Some(format!("../media/{id}.png")),
                },
                deformed: [(
                    "noise".to_string(),
                    Media {
                        audio: link("noise"),
                        spectrogram: None,
                    },
                )]
                .into_iter()
                .collect(),
            },
        );
        let mut labels = Vec::new();
        if i % 2 == 0 {
            labels.push("bright".to_string());
        }
        if i % 3 == 0 {
            labels.push("loud".to_string());
        }
        tracks.push(Track {
            track_id: id.clone(),
            audio_uri: format!("audio/clean/{id}.wav"),
            split: Split::Test,
            labels,
            targets: None,
            duration_s: 0.6,
            fold: None,
        });
        for (deformation, shift) in [("clean", 0.0f32), ("noise", 0.25)] {
            // `bright` scored by a pattern that gets 3 and 7 wrong, more under noise.
            let bright = ((i * 37 % 10) as f32 / 10.0 + shift).min(0.99);
            let scores = vec![
                bright,
                0.1 + 0.05 * i as f32,
                if i % 3 == 0 { 0.3 } else { 0.6 },
            ];
            predictions.push(Prediction {
                track_id: id.clone(),
                split: Split::Test,
                deformation: deformation.into(),
                scores,
            });
        }
    }
    (tracks, vec![(0, predictions)], media)
}

/// The listed errors of tag `t` under `deformation`, from the predictions: false positives
/// highest score first, false negatives lowest first.
fn tag_errors(
    tracks: &[Track],
    predictions: &[Prediction],
    deformation: &str,
    t: usize,
) -> (Vec<String>, Vec<String>) {
    let mut rows: Vec<(String, bool, f32)> = predictions
        .iter()
        .filter(|p| p.deformation == deformation)
        .map(|p| {
            let track = tracks.iter().find(|tr| tr.track_id == p.track_id).unwrap();
            (
                p.track_id.clone(),
                track.labels.iter().any(|l| l == TAGS[t]),
                p.scores[t],
            )
        })
        .collect();
    rows.sort_by(|a, b| b.2.total_cmp(&a.2).then(a.0.cmp(&b.0)));
    let fp = rows
        .iter()
        .filter(|r| !r.1 && r.2 >= 0.5)
        .map(|r| r.0.clone())
        .collect();
    rows.sort_by(|a, b| a.2.total_cmp(&b.2).then(a.0.cmp(&b.0)));
    let fn_ = rows
        .iter()
        .filter(|r| r.1 && r.2 < 0.5)
        .map(|r| r.0.clone())
        .collect();
    (fp, fn_)
}

/// Script that picks tag `tag` and `deformation` in the menus, then waits for the page.
fn choose(tag: usize, deformation: &str) -> String {
    format!(
        "(() => {{ document.getElementById('tag').value = '{tag}'; \
         const d = document.getElementById('deformation'); d.value = '{deformation}'; \
         d.dispatchEvent(new Event('change')); return new Promise(r => setTimeout(r, 50)); }})()"
    )
}

#[test]
fn tagging_page_lists_a_tags_most_confident_errors_and_plays_them() {
    let Some(binary) = required_browser() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let (tracks, predictions, media) = tagged(dir.path());
    let run = run_key("tags");
    let tags: Vec<String> = TAGS.iter().map(|s| s.to_string()).collect();
    let html = mir_report::tags::page(&run, &tags, &tracks, &predictions[0].1, &media).unwrap();
    let pages = dir.path().join("report/tags");
    std::fs::create_dir_all(&pages).unwrap();
    let file = pages.join("ds_tags_logmel_L0_linear.html");
    std::fs::write(&file, html).unwrap();

    let mut browser = Browser::start(&binary);
    let session = browser.open(&format!(
        "file://{}#tag=bright&deformation=noise",
        file.display()
    ));
    let s = session.as_str();
    let listed = |browser: &mut Browser, id: &str| {
        let js =
            format!("[...document.querySelectorAll('#{id} li.track')].map(li => li.dataset.track)");
        browser.eval(s, &js)
    };
    for (deformation, tag) in [("noise", 0), ("clean", 0), ("clean", 2)] {
        browser.eval(s, &choose(tag, deformation));
        let (fp, fn_) = tag_errors(&tracks, &predictions[0].1, deformation, tag);
        assert!(
            !fp.is_empty() || !fn_.is_empty(),
            "{deformation} {tag}: some errors"
        );
        assert_eq!(
            listed(&mut browser, "false-positives"),
            json!(fp),
            "{deformation} {tag}"
        );
        assert_eq!(
            listed(&mut browser, "false-negatives"),
            json!(fn_),
            "{deformation} {tag}"
        );
        let roc = browser.eval(s, "document.querySelectorAll('#roc polyline').length");
        assert_eq!(roc, json!(3), "frame, chance and the curve");
    }
    // Back to noise: every listed track plays its original and its deformed audio.
    browser.eval(s, &choose(0, "noise"));
    assert!(
        browser
            .eval(s, "location.hash")
            .as_str()
            .unwrap()
            .contains("tag=bright")
    );
    let audio = browser.eval(
        s,
        r#"Promise.all([...document.querySelectorAll('.errors audio')].map(a => new Promise(done => {
             const report = () => done({ready: a.readyState, error: a.error ? a.error.code : null});
             if (a.readyState >= 1) report();
             else { a.addEventListener('loadedmetadata', report); a.addEventListener('error', report); a.load(); }
           })))"#,
    );
    let audio = audio.as_array().unwrap();
    let (fp, fn_) = tag_errors(&tracks, &predictions[0].1, "noise", 0);
    assert_eq!(audio.len(), 2 * (fp.len() + fn_.len()), "{audio:?}");
    for a in audio {
        assert_eq!(a["error"], Value::Null, "{a}");
        assert!(a["ready"].as_u64().unwrap() >= 1, "{a}");
    }
    let deadline = Instant::now() + Duration::from_millis(300);
    while Instant::now() < deadline {
        browser.eval(s, "new Promise(r => setTimeout(r, 50))");
    }
    assert!(
        browser.errors().is_empty(),
        "console: {:#?}",
        browser.errors()
    );
}
