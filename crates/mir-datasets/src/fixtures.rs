//! Tiny copies of every supported dataset in its real on-disk layout and metadata format, with
//! synthesized audio, so that the handler that parses a real download parses the fixture.
//!
//! Each renderer reproduces the quirks of the real files that a parser must survive: TinySOL's
//! CRLF CSV and `#` in file names, VocalSet's `female1`/`male11` folders and `__MACOSX` junk,
//! Beatport's flats, `X`, `" | "`-joined and modal keys, GiantSteps MTG's confidences, `-` and
//! `" / "`-joined keys, and lower-case tab-separated `.key` files.

use std::f32::consts::TAU;
use std::path::Path;

use crate::{Error, Result};

mod tagging;
pub use tagging::{fma, magnatagatune, magnatagatune_parts, mtg_jamendo};

fn io(path: &Path) -> impl Fn(std::io::Error) -> Error + '_ {
    move |source| Error::Io {
        path: path.to_path_buf(),
        source,
    }
}

fn write(path: &Path, bytes: impl AsRef<[u8]>) -> Result<()> {
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).map_err(io(parent))?;
    }
    std::fs::write(path, bytes).map_err(io(path))
}

/// A short note with a few harmonics and a decay, deterministic.
fn note(freq: f32, seconds: f32, sr: u32, brightness: f32) -> Vec<f32> {
    let plain = Timbre {
        brightness,
        even: 1.0,
        formant_hz: 1000.0,
        formant_gain: 0.0,
        attack: 0.005,
        noise: 0.0,
    };
    timbre(freq, seconds, sr, &plain, 0)
}

/// An instrument's character.
struct Timbre {
    /// Amplitude ratio of successive harmonics.
    brightness: f32,
    /// Weight of even harmonics (low for clarinet-like tones).
    even: f32,
    /// Centre of a resonance that boosts the harmonics near it, whatever the pitch.
    formant_hz: f32,
    /// Boost at the resonance's centre (linear).
    formant_gain: f32,
    /// Attack time in seconds.
    attack: f32,
    /// Breath noise relative to the tone.
    noise: f32,
}

/// A note of `freq` Hz with the character `t`, and a seeded noise stream.
fn timbre(freq: f32, seconds: f32, sr: u32, t: &Timbre, seed: u64) -> Vec<f32> {
    let (brightness, even, attack, noise) = (t.brightness, t.even, t.attack, t.noise);
    let weight = |h: i32| {
        let f = freq * h as f32;
        let octaves = (f / t.formant_hz).log2();
        let formant = 1.0 + t.formant_gain * (-octaves * octaves / (2.0 * 0.35 * 0.35)).exp();
        let parity = if h % 2 == 0 { even } else { 1.0 };
        brightness.powi(h - 1) * parity * formant
    };
    let weights: Vec<f32> = (1..=12).map(weight).collect();
    let n = (seconds * sr as f32) as usize;
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..n)
        .map(|i| {
            let t = i as f32 / sr as f32;
            let env = (-2.5 * t / seconds).exp() * (t / attack.max(1e-4)).min(1.0);
            let tone = (1..=12)
                .filter(|h| (h * freq as i32) < (sr / 2) as i32)
                .map(|h| (TAU * freq * h as f32 * t).sin() * weights[h as usize - 1])
                .sum::<f32>()
                / weights.iter().sum::<f32>()
                * 3.0;
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let white = (x >> 40) as f32 / (1u64 << 24) as f32 * 2.0 - 1.0;
            (tone + noise * white) * 0.15 * env
        })
        .collect()
}

fn wav(path: &Path, samples: &[f32], sr: u32) -> Result<()> {
    let audio = crate::audio::Audio {
        samples: samples.to_vec(),
        sample_rate_hz: sr,
    };
    write(path, crate::audio::wav_bytes(&audio)?)
}

fn mp3(path: &Path, samples: &[f32], sr: u32) -> Result<()> {
    mp3_at(path, samples, sr, mp3lame_encoder::Bitrate::Kbps64)
}

/// A mono MP3 of `samples` at `bitrate`.
fn mp3_at(path: &Path, samples: &[f32], sr: u32, bitrate: mp3lame_encoder::Bitrate) -> Result<()> {
    mp3_channels(path, &[samples], sr, bitrate)
}

/// An MP3 of one (mono) or two (stereo) `channels` at `bitrate`.
fn mp3_channels(
    path: &Path,
    channels: &[&[f32]],
    sr: u32,
    bitrate: mp3lame_encoder::Bitrate,
) -> Result<()> {
    use mp3lame_encoder::{Builder, DualPcm, FlushGap, MonoPcm};
    let e = |what: &str| Error::Io {
        path: path.to_path_buf(),
        source: std::io::Error::other(format!("MP3 encoder: {what}")),
    };
    let mut b = Builder::new().ok_or_else(|| e("cannot allocate"))?;
    b.set_num_channels(channels.len() as u8)
        .map_err(|x| e(&x.to_string()))?;
    b.set_sample_rate(sr).map_err(|x| e(&x.to_string()))?;
    b.set_brate(bitrate).map_err(|x| e(&x.to_string()))?;
    let mut enc = b.build().map_err(|x| e(&x.to_string()))?;
    let frames = channels.first().map_or(0, |c| c.len());
    let mut out = Vec::with_capacity(frames * 2 * channels.len() + 7200);
    match channels {
        [mono] => enc.encode_to_vec(MonoPcm(mono), &mut out),
        [left, right] => enc.encode_to_vec(DualPcm { left, right }, &mut out),
        _ => return Err(e("one or two channels")),
    }
    .map_err(|x| e(&x.to_string()))?;
    enc.flush_to_vec::<FlushGap>(&mut out)
        .map_err(|x| e(&x.to_string()))?;
    write(path, out)
}

/// `seconds` of music-like 44.1 kHz stereo (four detuned partials with vibrato, the right
/// channel 0.3% sharp) as a 16-bit `music.wav` and a 192 kbps `music.mp3` in `dir`: the
/// signal of the decode benchmarks. Returns the two paths.
pub fn stereo_music(dir: &Path, seconds: u32) -> Result<[std::path::PathBuf; 2]> {
    const SR: u32 = 44_100;
    let n = (seconds * SR) as usize;
    let (l, r) = (
        mir_audio::chord(n, SR, 0.2, 1.0),
        mir_audio::chord(n, SR, 0.2, 1.003),
    );
    let wav = dir.join("music.wav");
    let spec = hound::WavSpec {
        channels: 2,
        sample_rate: SR,
        bits_per_sample: 16,
        sample_format: hound::SampleFormat::Int,
    };
    std::fs::create_dir_all(dir).map_err(io(dir))?;
    let hound_err = |e: hound::Error| Error::Io {
        path: wav.clone(),
        source: std::io::Error::other(e.to_string()),
    };
    let mut w = hound::WavWriter::create(&wav, spec).map_err(hound_err)?;
    for (a, b) in l.iter().zip(&r) {
        w.write_sample((a * 32767.0) as i16).map_err(hound_err)?;
        w.write_sample((b * 32767.0) as i16).map_err(hound_err)?;
    }
    w.finalize().map_err(hound_err)?;
    let mp3 = dir.join("music.mp3");
    mp3_channels(&mp3, &[&l, &r], SR, mp3lame_encoder::Bitrate::Kbps192)?;
    Ok([wav, mp3])
}

/// A triad of the key `label` names (root, third, fifth, over two octaves), or a plain tone for
/// labels that name no single key: fixture audio that agrees with its annotation.
fn key_chord(label: &str, seconds: f32, sr: u32) -> Vec<f32> {
    let Some(key) = crate::keys::normalize_key(label) else {
        return note(midi_hz(57), seconds, sr, 0.4);
    };
    let (tonic, mode) = key
        .split_once(' ')
        .expect("normalized keys are `<tonic> <mode>`");
    let root = PITCH_CLASSES
        .iter()
        .position(|p| *p == tonic)
        .expect("normalized tonics are sharps") as i32;
    let third = if mode == "minor" { 3 } else { 4 };
    let mut out = vec![0.0; (seconds * sr as f32) as usize];
    for interval in [0, third, 7, 12, 12 + third] {
        for (o, v) in out
            .iter_mut()
            .zip(note(midi_hz(48 + root + interval), seconds, sr, 0.3))
        {
            *o += v / 3.0;
        }
    }
    out
}

fn midi_hz(midi: i32) -> f32 {
    440.0 * 2f32.powf((midi - 69) as f32 / 12.0)
}

const PITCH_CLASSES: [&str; 12] = [
    "C", "C#", "D", "D#", "E", "F", "F#", "G", "G#", "A", "A#", "B",
];

/// TinySOL's 14 instruments: (family, folder, abbreviation, full name, lowest MIDI note).
pub const TINYSOL_INSTRUMENTS: [(&str, &str, &str, &str, i32); 14] = [
    ("Brass", "Bass_Tuba", "BTb", "Bass Tuba", 30),
    ("Brass", "Horn", "Hn", "French Horn", 41),
    ("Brass", "Trombone", "Tbn", "Trombone", 40),
    ("Brass", "Trumpet_C", "TpC", "Trumpet in C", 54),
    ("Keyboards", "Accordion", "Acc", "Accordion", 40),
    ("Strings", "Contrabass", "Cb", "Contrabass", 28),
    ("Strings", "Viola", "Va", "Viola", 48),
    ("Strings", "Violoncello", "Vc", "Cello", 36),
    ("Strings", "Violin", "Vn", "Violin", 55),
    ("Winds", "Sax_Alto", "ASax", "Alto Saxophone", 49),
    ("Winds", "Bassoon", "Bn", "Bassoon", 34),
    ("Winds", "Clarinet_Bb", "ClBb", "Clarinet in Bb", 50),
    ("Winds", "Flute", "Fl", "Flute", 60),
    ("Winds", "Oboe", "Ob", "Oboe", 58),
];

/// TinySOL: `notes` notes per instrument, at most 108 (a fourth apart from the instrument's
/// lowest note, within three octaves; dynamics alternating pp/ff, then p/f, then mf), folds dealt in turn, `TinySOL_metadata.csv` with CRLF, and the
/// archive's layout `<Family>/<Folder>/ordinario/<file>.wav`. Returns the number of files.
pub fn tinysol(root: &Path, notes: usize) -> Result<usize> {
    if notes > 108 {
        return Err(Error::Metadata {
            path: root.join(crate::tinysol::METADATA),
            reason: format!(
                "the fixture has at most 108 distinct notes per instrument, not {notes}"
            ),
        });
    }
    let header = "Path,Fold,Family,Instrument (abbr.),Instrument (in full),Technique (abbr.),\
                  Technique (in full),Pitch,Pitch ID,Dynamics,Dynamics ID,Instance ID,\
                  String ID (if applicable),Needed digital retuning";
    let mut csv = format!("{header}\r\n");
    let mut n = 0;
    for (k, &(family, folder, abbr, full, low)) in TINYSOL_INSTRUMENTS.iter().enumerate() {
        for j in 0..notes {
            let midi = low + (5 * j as i32) % 36;
            let pitch = format!("{}{}", PITCH_CLASSES[(midi % 12) as usize], midi / 12 - 1);
            // Pitches repeat every 36 notes: each round of them has its own dynamics.
            let (dynamics, dyn_id) = match (j / 36, j % 2) {
                (0, 0) => ("pp", 0),
                (0, _) => ("ff", 4),
                (1, 0) => ("p", 1),
                (1, _) => ("f", 3),
                _ => ("mf", 2),
            };
            let (instance, instance_id, string_id) = match family {
                "Strings" => (format!("{}c", j % 4 + 1), j % 4, format!("{}.0", j % 4 + 1)),
                _ => ("N".to_string(), 0, String::new()),
            };
            let retune = if j % 3 == 2 { "T14d" } else { "N" };
            let rel = format!(
                "{family}/{folder}/ordinario/{abbr}-ord-{pitch}-{dynamics}-{instance}-{retune}.wav"
            );
            let fold = (k * notes + j) % 5;
            csv.push_str(&format!(
                "{rel},{fold},{family},{abbr},{full},ord,ordinario,{pitch},{midi},{dynamics},\
                 {dyn_id},{instance_id},{string_id},{}\r\n",
                if retune == "N" { "FALSE" } else { "TRUE" }
            ));
            // Each instrument its own resonance, harmonic balance, attack and breath noise.
            let character = Timbre {
                brightness: 0.85 + 0.01 * (k % 5) as f32,
                even: if abbr == "ClBb" {
                    0.1
                } else {
                    1.0 - 0.05 * (k % 4) as f32
                },
                formant_hz: 350.0 * 1.22f32.powi(k as i32),
                formant_gain: 10.0,
                attack: 0.005 + 0.01 * (k % 5) as f32,
                noise: if family == "Winds" { 0.08 } else { 0.02 },
            };
            let samples = timbre(
                midi_hz(midi),
                0.5,
                44_100,
                &character,
                (k * 1000 + j) as u64,
            );
            wav(&root.join(&rel), &samples, 44_100)?;
            n += 1;
        }
    }
    write(&root.join(crate::tinysol::METADATA), csv)?;
    Ok(n)
}

/// VocalSet: every singer (`female1`..`female9`, `male1`..`male11`) sings every one of the ten
/// techniques once in `arpeggios` (plus one `fast_forte` file outside the task), with the
/// official split lists, a readme and `__MACOSX` resource forks. Returns the number of WAVs.
pub fn vocalset(root: &Path) -> Result<usize> {
    let singers: Vec<String> = (1..=9)
        .map(|i| format!("female{i}"))
        .chain((1..=11).map(|i| format!("male{i}")))
        .collect();
    let mut n = 0;
    for (s, singer) in singers.iter().enumerate() {
        let prefix = singer.replace("emale", "").replace("ale", "");
        let base = 220.0 * if singer.starts_with('f') { 2.0 } else { 1.0 } + 7.0 * s as f32;
        let techniques = crate::vocalset::TECHNIQUES.iter().chain(&["fast_forte"]);
        for (t, technique) in techniques.enumerate() {
            let file = format!("{prefix}_arpeggios_{technique}_a.wav");
            let path = root
                .join("FULL")
                .join(singer)
                .join("arpeggios")
                .join(technique)
                .join(&file);
            wav(
                &path,
                &note(base, 0.2, 22_050, 0.1 + 0.08 * t as f32),
                22_050,
            )?;
            n += 1;
        }
    }
    // A resource fork beside a real file, and the archive's `__MACOSX/` tree.
    write(
        &root.join("FULL/female1/arpeggios/belt/._f1_arpeggios_belt_a.wav"),
        b"\0\x05\x16\x07",
    )?;
    write(
        &root.join("__MACOSX/FULL/female1/._arpeggios"),
        b"\0\x05\x16\x07",
    )?;
    write(
        &root.join("train_singers_technique.txt"),
        "female1\nfemale3\nfemale4\nfemale5\nfemale6\nfemale7\nfemale9\nmale1\nmale2\nmale4\n\
         male6\nmale7\nmale8\nmale9\nmale11\n",
    )?;
    write(
        &root.join("test_singers_technique.txt"),
        "female2\nfemale8\nmale3\nmale5\nmale10\n",
    )?;
    write(
        &root.join("readme-anon.txt"),
        "Full vocalset data - 20 singers (11 male, 9 female)\n",
    )?;
    Ok(n)
}

/// Beatport EDM key: `keys/<id> <artist> - <title> (<mix>).txt` (one line, no newline),
/// `audio/<same>.mp3` and `meta/<same>.json` (with the real files' bare `nan`). Every one of
/// the 24 keys three times (with sharps, with flats, in lower case), plus labels a parser must
/// refuse.
/// Returns (annotated files, usable tracks).
pub fn beatport(root: &Path) -> Result<(usize, usize)> {
    let flats = [
        "C", "Db", "D", "Eb", "E", "F", "Gb", "G", "Ab", "A", "Bb", "B",
    ];
    let mut labels: Vec<String> = Vec::new();
    for copy in 0..3 {
        for (pc, name) in PITCH_CLASSES.iter().enumerate() {
            let tonic = match copy {
                0 => name.to_string(),
                1 => flats[pc].to_string(),
                _ => name.to_lowercase(),
            };
            labels.push(format!("{tonic} major"));
            labels.push(format!("{tonic} minor"));
        }
    }
    let usable = labels.len();
    labels.extend(
        [
            "X",
            "unknown",
            "Ab major | F minor",
            "F minor phrygian",
            "E other",
            "D minor ",
        ]
        .map(String::from),
    );
    // `D minor ` (trailing space) is usable.
    let usable = usable + 1;
    for (i, label) in labels.iter().enumerate() {
        let stem = format!("{} Artist {i} - Title {i} (Original Mix)", 100_000 + i);
        write(&root.join("keys").join(format!("{stem}.txt")), label)?;
        write(
            &root.join("meta").join(format!("{stem}.json")),
            format!(
                "{{\"id\": {}, \"bpm\": nan, \"key\": \"{label}\"}}",
                100_000 + i
            ),
        )?;
        mp3(
            &root.join("audio").join(format!("{stem}.mp3")),
            &key_chord(label, 0.5, 44_100),
            44_100,
        )?;
    }
    Ok((labels.len(), usable))
}

/// GiantSteps: `giantsteps-key-dataset/` (12 test tracks, `annotations/key/<id>.LOFI.key` with
/// flats, no newline) and `giantsteps-mtg-key-dataset/` (`annotations/annotations.txt` with
/// confidences, `-` and multiple keys; 30 rows), each with `audio/<id>.LOFI.mp3`.
/// Returns (test tracks, usable training tracks at confidence 2).
pub fn giantsteps(root: &Path) -> Result<(usize, usize)> {
    let gs = root.join("giantsteps-key-dataset");
    let keys = [
        "Db major", "D minor", "Eb minor", "E major", "F minor", "Gb major",
    ];
    let mut test = 0;
    for i in 0..12 {
        let id = 1_000_000 + i;
        write(
            &gs.join(format!("annotations/key/{id}.LOFI.key")),
            keys[i % keys.len()],
        )?;
        mp3(
            &gs.join(format!("audio/{id}.LOFI.mp3")),
            &key_chord(keys[i % keys.len()], 0.5, 44_100),
            44_100,
        )?;
        test += 1;
    }
    let mtg = root.join("giantsteps-mtg-key-dataset");
    let mut table = String::from("ID\tMANUAL KEY\tC\n");
    let mut usable = 0;
    for i in 0..30usize {
        let id = 5_000 + i;
        let (key, confidence) = match i {
            0 => ("-".to_string(), 0),
            1 => ("F minor / G# major".to_string(), 2),
            2 => ("A minor".to_string(), 1),
            3 => ("B major ".to_string(), 2),
            _ => (
                format!(
                    "{} {}",
                    PITCH_CLASSES[i % 12],
                    if i % 2 == 0 { "major" } else { "minor" }
                ),
                2,
            ),
        };
        if confidence == 2 && !key.contains('/') {
            usable += 1;
        }
        table.push_str(&format!("{id}\t{key}\t{confidence}\n"));
        write(
            &mtg.join(format!("annotations/key/{id}.LOFI.key")),
            format!("{}\t{confidence}\t\n", key.to_lowercase()),
        )?;
        mp3(
            &mtg.join(format!("audio/{id}.LOFI.mp3")),
            &key_chord(&key, 0.5, 44_100),
            44_100,
        )?;
    }
    write(&mtg.join("annotations/annotations.txt"), table)?;
    Ok((test, usable))
}

/// GTZAN's archive layout, `genres/<genre>/<genre>.000NN.wav` for all 1,000 names (so the
/// fault-filtered split finds every listed file), each `seconds` long at 22,050 Hz: a genre is a
/// timbre, each file one of 36 notes that every genre plays. With `au`, Sun `.au` files (16-bit
/// PCM) instead, as older copies ship. The 14 known pairs of identical files are identical here
/// too. Returns the number of files.
pub fn gtzan(root: &Path, seconds: f32, au: bool) -> Result<usize> {
    let sr = 22_050;
    for (g, genre) in crate::gtzan::GENRES.iter().enumerate() {
        let character = Timbre {
            brightness: 0.25 + 0.07 * g as f32,
            even: if g % 2 == 0 { 1.0 } else { 0.3 },
            formant_hz: 400.0 + 250.0 * g as f32,
            formant_gain: 2.0,
            attack: 0.002 + 0.004 * (g % 3) as f32,
            noise: 0.02 * (g % 4) as f32,
        };
        for n in 0..100u32 {
            // Every genre plays the same notes: only the timbre tells genres apart.
            let freq = midi_hz(40 + ((n * 7) % 36) as i32);
            let samples = timbre(
                freq,
                seconds,
                sr,
                &character,
                u64::from(n) + 1000 * g as u64,
            );
            let name = format!("{genre}.{n:05}");
            let dir = root.join("genres").join(genre);
            match au {
                true => write(&dir.join(format!("{name}.au")), au_bytes(&samples, sr))?,
                false => wav(&dir.join(format!("{name}.wav")), &samples, sr)?,
            }
        }
    }
    // As in the archive, the second of each known pair is a bitwise copy of the first.
    let ext = if au { "au" } else { "wav" };
    let path = |stem: &str| {
        let genre = stem.split('.').next().unwrap_or_default();
        root.join("genres")
            .join(genre)
            .join(format!("{stem}.{ext}"))
    };
    for (a, b) in crate::gtzan::DUPLICATES {
        std::fs::copy(path(a), path(b)).map_err(io(&path(b)))?;
    }
    Ok(1000)
}

/// A mono 16-bit PCM Sun AU file (the 24-byte big-endian header, then big-endian samples),
/// quantised as [`crate::audio::wav_bytes`] quantises.
pub fn au_bytes(samples: &[f32], sr: u32) -> Vec<u8> {
    let mut out = Vec::with_capacity(24 + 2 * samples.len());
    let size = (2 * samples.len()) as u32;
    for word in [0x2e73_6e64u32, 24, size, 3, sr, 1] {
        out.extend(word.to_be_bytes());
    }
    for s in samples {
        out.extend(((s.clamp(-1.0, 1.0) * 32767.0).round() as i16).to_be_bytes());
    }
    out
}

/// The NSynth fixture's instrument families, with their indices in NSynth's list of 11.
const NSYNTH_FAMILIES: [&str; 4] = ["bass", "keyboard", "string", "vocal"];
const NSYNTH_FAMILY_IDS: [usize; 4] = [0, 4, 8, 10];
/// NSynth's sources, in index order.
const NSYNTH_SOURCES: [&str; 3] = ["acoustic", "electronic", "synthetic"];

/// NSynth's layout, `nsynth-{train,valid,test}/examples.json` and `audio/<note_str>.wav`, with
/// `per_split` notes in each split (16 kHz, 0.25 s): `examples.json` written as the dataset's
/// own (Python 2's `json.dump(indent=4)`: the file's key order, a space before each line
/// break), every split with instruments of its own, one note below MIDI 21 per split, and
/// notes with no quality. Returns the number of notes.
pub fn nsynth(root: &Path, per_split: usize) -> Result<usize> {
    let sr = 16_000;
    let mut n = 0;
    for (s, split) in ["nsynth-train", "nsynth-valid", "nsynth-test"]
        .iter()
        .enumerate()
    {
        let mut entries = Vec::new();
        for k in 0..per_split {
            let (f, src) = (
                k % NSYNTH_FAMILIES.len(),
                (k / NSYNTH_FAMILIES.len()) % NSYNTH_SOURCES.len(),
            );
            let instrument = 100 * s + k % 8;
            let pitch = if k == 0 { 9 } else { 21 + (k * 13) % 88 };
            let velocity = [25, 50, 75, 100, 127][k % 5];
            let name = format!(
                "{}_{}_{instrument:03}-{pitch:03}-{velocity:03}",
                NSYNTH_FAMILIES[f], NSYNTH_SOURCES[src]
            );
            let qualities: Vec<usize> =
                (0..10).filter(|q| k % 3 != 0 && (k + q) % 4 == 0).collect();
            let brightness = 0.2 + 0.15 * f as f32;
            let tone = note(midi_hz(pitch as i32), 0.25, sr, brightness);
            wav(
                &root.join(split).join("audio").join(format!("{name}.wav")),
                &tone,
                sr,
            )?;
            entries.push(nsynth_entry(
                &name, k, pitch, velocity, instrument, f, src, &qualities,
            ));
            n += 1;
        }
        let json = format!("{{\n{}\n}}\n", entries.join(", \n"));
        write(&root.join(split).join("examples.json"), json)?;
    }
    Ok(n)
}

/// One `examples.json` entry in the dataset's key order and layout.
#[allow(clippy::too_many_arguments, reason = "the fields of one entry")]
fn nsynth_entry(
    name: &str,
    note: usize,
    pitch: usize,
    velocity: usize,
    instrument: usize,
    family: usize,
    source: usize,
    qualities: &[usize],
) -> String {
    let bits: Vec<String> = (0..10)
        .map(|q| format!("            {}", u8::from(qualities.contains(&q))))
        .collect();
    let names: Vec<String> = qualities
        .iter()
        .map(|q| format!("            \"{}\"", crate::nsynth::QUALITIES[*q]))
        .collect();
    let list = |items: &[String]| match items.is_empty() {
        true => "[]".to_string(),
        false => format!("[\n{}\n        ]", items.join(", \n")),
    };
    let instrument_str = name
        .rsplit_once('-')
        .and_then(|(a, _)| a.rsplit_once('-'))
        .map_or(name, |(a, _)| a);
    let fields = [
        format!("\"qualities\": {}", list(&bits)),
        format!("\"pitch\": {pitch}"),
        format!("\"note\": {}", 200_000 + note),
        format!("\"instrument_source_str\": \"{}\"", NSYNTH_SOURCES[source]),
        format!("\"velocity\": {velocity}"),
        format!("\"instrument_str\": \"{instrument_str}\""),
        format!("\"instrument\": {instrument}"),
        "\"sample_rate\": 16000".to_string(),
        format!("\"qualities_str\": {}", list(&names)),
        format!("\"instrument_source\": {source}"),
        format!("\"note_str\": \"{name}\""),
        format!("\"instrument_family\": {}", NSYNTH_FAMILY_IDS[family]),
        format!("\"instrument_family_str\": \"{}\"", NSYNTH_FAMILIES[family]),
    ];
    let body: Vec<String> = fields.iter().map(|f| format!("        {f}")).collect();
    format!("    \"{name}\": {{\n{}\n    }}", body.join(", \n"))
}

/// emoMusic's annotation CSVs and `clips_45seconds/<id>.mp3` (1 s, 44.1 kHz mono, 64 kbit/s):
/// `songs` songs by artists of three songs each, every fourth artist in MediaEval's evaluation
/// set; `songs_info.csv` quoted with TABs inside the values and minutes.seconds times with one
/// second digit (`0.2`), as the real file; static ratings that follow the clip's brightness
/// (arousal) and register (valence). Returns the number of songs.
pub fn emomusic(root: &Path, songs: usize) -> Result<usize> {
    let mut info = String::from(
        "\"song_id\",\"file_name\",\"Artist\",\"Song title\",\"start of the segment (min.sec)\",\
         \"end of the segment (min.sec)\",\"Genre\",\"Mediaeval 2013 set\"\n",
    );
    let mut ratings = String::from("song_id,mean_arousal,std_arousal,mean_valence,std_valence\n");
    let header: Vec<String> = (0..61)
        .map(|k| format!("sample_{}ms", 15_000 + 500 * k))
        .collect();
    let mut continuous = format!("song_id,{}\n", header.join(","));
    for k in 0..songs {
        let id = 2 + 3 * k; // ids with gaps, not zero-padded
        let artist_index = k / 3;
        let artist = format!(
            "The {} Band{}",
            ["Blue", "Red", "Jazz", "Folk", "Pop"][artist_index % 5],
            artist_index
        );
        let set = if artist_index % 4 == 3 {
            "evaluation"
        } else {
            "development"
        };
        let (start, end) = if k % 2 == 0 {
            ("0.2", "1.05")
        } else {
            ("0.48", "1.33")
        };
        info.push_str(&format!(
            "{id},\"\t{id}.mp3\",\"{artist}\t\",\"\tSong {k}\t\",\"\t{start}\t\",\"\t{end}\t\",\"\tBlues\t\",\"{set}\"\n"
        ));
        let (brightness, midi) = (0.15 + 0.05 * (k % 10) as f32, 45 + ((k * 5) % 24) as i32);
        let arousal = 2.0 + 6.0 * (k % 10) as f32 / 9.0;
        let valence = 2.0 + 6.0 * ((k * 5) % 24) as f32 / 23.0;
        ratings.push_str(&format!("{id},{arousal:.5},0.9,{valence:.5},0.8\n"));
        let values: Vec<String> = (0..61)
            .map(|_| format!("{:.3}", (arousal - 5.0) / 4.0))
            .collect();
        continuous.push_str(&format!("{id},{}\n", values.join(",")));
        let clip = note(midi_hz(midi), 1.0, 44_100, brightness);
        mp3(
            &root.join("clips_45seconds").join(format!("{id}.mp3")),
            &clip,
            44_100,
        )?;
    }
    write(&root.join("songs_info.csv"), info)?;
    write(&root.join("static_annotations.csv"), ratings)?;
    for name in [
        "arousal_cont_average",
        "arousal_cont_std",
        "valence_cont_average",
        "valence_cont_std",
    ] {
        write(&root.join(format!("{name}.csv")), &continuous)?;
    }
    Ok(songs)
}
