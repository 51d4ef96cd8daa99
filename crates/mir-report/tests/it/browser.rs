//! A real headless browser opens a generated confusion-matrix page from disk, clicks a cell,
//! and checks the listed tracks, that every audio element loads its (real WAV) source, that
//! the spectrograms load, that the deformation menu switches the matrix, and that nothing was
//! written to the console. A screenshot is saved under `CARGO_TARGET_TMPDIR`.
//!
//! The browser is Debian's `chromium` (or `MIRREF_CHROMIUM`), driven over the DevTools
//! protocol. Without one the test is skipped, unless `MIRREF_REQUIRE_BROWSER=1` (set by
//! `cargo xtask ci`, which installs chromium), where it fails.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use base64::Engine;
use mir_report::RunId;
use mir_report::confusion::{Media, TrackMedia, argmax, page};
use mir_table::{Prediction, Track};
use serde_json::{Value, json};
use tungstenite::stream::MaybeTlsStream;
use tungstenite::{Message, WebSocket};

fn chromium() -> Option<PathBuf> {
    if let Ok(p) = std::env::var("MIRREF_CHROMIUM") {
        return Some(PathBuf::from(p));
    }
    let path = std::env::var_os("PATH")?;
    ["chromium", "chromium-browser", "google-chrome"]
        .iter()
        .flat_map(|name| std::env::split_paths(&path).map(move |d| d.join(name)))
        .find(|p| p.is_file())
}

/// A browser started for the test, killed when dropped.
struct Browser {
    child: Child,
    socket: WebSocket<MaybeTlsStream<TcpStream>>,
    next_id: u64,
    events: Vec<Value>,
    _profile: tempfile::TempDir,
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Browser {
    fn start(binary: &Path) -> Browser {
        let profile = tempfile::tempdir().unwrap();
        let mut child = Command::new(binary)
            .args([
                "--headless=new",
                "--no-sandbox",
                "--disable-gpu",
                "--no-first-run",
                "--remote-debugging-port=0",
                "--window-size=1200,1400",
            ])
            .arg(format!("--user-data-dir={}", profile.path().display()))
            .arg("about:blank")
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("starting {}: {e}", binary.display()));
        // Chromium prints the DevTools address on stderr.
        let stderr = BufReader::new(child.stderr.take().unwrap());
        let mut url = None;
        for line in stderr.lines() {
            let line = line.unwrap();
            if let Some(rest) = line.strip_prefix("DevTools listening on ") {
                url = Some(rest.trim().to_owned());
                break;
            }
        }
        let url = url.expect("chromium printed its DevTools address");
        let (socket, _) = tungstenite::connect(url.as_str()).expect("DevTools WebSocket");
        Browser {
            child,
            socket,
            next_id: 0,
            events: Vec::new(),
            _profile: profile,
        }
    }

    /// Sends a command and waits for its answer; events seen meanwhile are kept.
    fn call(&mut self, session: Option<&str>, method: &str, params: Value) -> Value {
        self.next_id += 1;
        let id = self.next_id;
        let mut msg = json!({"id": id, "method": method, "params": params});
        if let Some(s) = session {
            msg["sessionId"] = json!(s);
        }
        self.socket
            .send(Message::text(msg.to_string()))
            .expect("send to DevTools");
        loop {
            let value = self.read();
            if value["id"] == json!(id) {
                if let Some(e) = value.get("error") {
                    panic!("{method} failed: {e}");
                }
                return value["result"].clone();
            }
            self.events.push(value);
        }
    }

    fn read(&mut self) -> Value {
        loop {
            match self.socket.read().expect("read from DevTools") {
                Message::Text(t) => return serde_json::from_str(t.as_str()).unwrap(),
                Message::Close(_) => panic!("DevTools closed the connection"),
                _ => continue,
            }
        }
    }

    /// Waits for the event `method` (already seen or coming).
    fn wait_for(&mut self, method: &str) {
        if self.events.iter().any(|e| e["method"] == json!(method)) {
            return;
        }
        loop {
            let value = self.read();
            let done = value["method"] == json!(method);
            self.events.push(value);
            if done {
                return;
            }
        }
    }

    /// Evaluates `expression` in the page (awaiting a promise) and returns its value.
    fn eval(&mut self, session: &str, expression: &str) -> Value {
        let result = self.call(
            Some(session),
            "Runtime.evaluate",
            json!({"expression": expression, "awaitPromise": true, "returnByValue": true}),
        );
        if let Some(e) = result.get("exceptionDetails") {
            panic!("evaluating {expression}: {e}");
        }
        result["result"]["value"].clone()
    }

    /// Console errors, uncaught exceptions and error log entries seen so far.
    fn errors(&self) -> Vec<&Value> {
        self.events
            .iter()
            .filter(|e| match e["method"].as_str() {
                Some("Runtime.exceptionThrown") => true,
                Some("Runtime.consoleAPICalled") => {
                    matches!(
                        e["params"]["type"].as_str(),
                        Some("error" | "assert" | "warning")
                    )
                }
                Some("Log.entryAdded") => {
                    matches!(
                        e["params"]["entry"]["level"].as_str(),
                        Some("error" | "warning")
                    )
                }
                _ => false,
            })
            .collect()
    }
}

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
            mir_report::spectrogram::png(&samples, SR).unwrap(),
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
            split: "test".into(),
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
                split: "test".into(),
                deformation: deformation.into(),
                scores,
            });
        }
    }
    // A training track is not listed.
    tracks.push(Track {
        split: "train".into(),
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
        .filter(|pr| pr.deformation == deformation && pr.split == "test")
        .filter(|pr| truth[pr.track_id.as_str()] == t && argmax(&pr.scores) == Some(p))
        .map(|pr| pr.track_id.clone())
        .collect()
}

#[test]
fn confusion_page_lists_and_plays_the_tracks_of_a_clicked_cell() {
    let Some(binary) = chromium() else {
        assert!(
            std::env::var("MIRREF_REQUIRE_BROWSER").as_deref() != Ok("1"),
            "MIRREF_REQUIRE_BROWSER=1 but no chromium on PATH (apt-get install chromium)"
        );
        eprintln!("skipped: no chromium on PATH");
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let (tracks, predictions, media) = experiment(dir.path());
    let run = RunId {
        dataset: "ds".into(),
        task: "instrument".into(),
        model: "logmel".into(),
        layer: 0,
        probe: "linear".into(),
        seed: 0,
    };
    let labels: Vec<String> = LABELS.iter().map(|s| s.to_string()).collect();
    let html = page(&run, &labels, &tracks, &predictions, &media).unwrap();
    let confusion = dir.path().join("report/confusion");
    std::fs::create_dir_all(&confusion).unwrap();
    let file = confusion.join(format!("{}.html", run.slug_without_seed()));
    std::fs::write(&file, html).unwrap();

    let mut browser = Browser::start(&binary);
    let target = browser.call(None, "Target.createTarget", json!({"url": "about:blank"}));
    let attached = browser.call(
        None,
        "Target.attachToTarget",
        json!({"targetId": target["targetId"], "flatten": true}),
    );
    let session = attached["sessionId"].as_str().unwrap().to_owned();
    let s = session.as_str();
    for domain in ["Runtime.enable", "Log.enable", "Page.enable"] {
        browser.call(Some(s), domain, json!({}));
    }
    let url = format!("file://{}#deformation=noise&seed=0", file.display());
    browser.call(Some(s), "Page.navigate", json!({"url": url}));
    browser.wait_for("Page.loadEventFired");

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

    let shot = browser.call(Some(s), "Page.captureScreenshot", json!({"format": "png"}));
    let png = base64::engine::general_purpose::STANDARD
        .decode(shot["data"].as_str().unwrap())
        .unwrap();
    let artefact = Path::new(env!("CARGO_TARGET_TMPDIR")).join("confusion_matrix.png");
    std::fs::write(&artefact, &png).unwrap();
    eprintln!("screenshot: {}", artefact.display());
    assert!(png.starts_with(b"\x89PNG"));

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
