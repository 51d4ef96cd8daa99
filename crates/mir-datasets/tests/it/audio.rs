//! Decoding, resampling and windowed reading of files in every supported format.

use std::f64::consts::PI;
use std::path::Path;

use mir_datasets::audio::Error;
use mir_datasets::audio::{AudioReader, load};

use crate::encode;

fn tone(freq: f64, amp: f64, seconds: f64, sr: u32) -> Vec<f32> {
    let n = (seconds * f64::from(sr)).round() as usize;
    (0..n)
        .map(|i| (amp * (2.0 * PI * freq * i as f64 / f64::from(sr)).sin()) as f32)
        .collect()
}

fn rms(x: &[f32]) -> f64 {
    (x.iter().map(|&v| f64::from(v) * f64::from(v)).sum::<f64>() / x.len() as f64).sqrt()
}

/// The strongest frequency, refined by parabolic interpolation of the log spectrum.
fn peak_hz(x: &[f32], sr: u32) -> f64 {
    let n = x.len().next_power_of_two() * 4;
    let fft = realfft::RealFftPlanner::<f64>::new().plan_fft_forward(n);
    let mut buf = vec![0.0; n];
    for (i, &v) in x.iter().enumerate() {
        buf[i] = f64::from(v) * (0.5 - 0.5 * (2.0 * PI * i as f64 / x.len() as f64).cos());
    }
    let mut spec = fft.make_output_vec();
    fft.process(&mut buf, &mut spec).unwrap();
    let mag: Vec<f64> = spec.iter().map(|c| c.norm().max(1e-30).ln()).collect();
    let k = (1..mag.len() - 1)
        .max_by(|&a, &b| mag[a].total_cmp(&mag[b]))
        .unwrap();
    let offset = 0.5 * (mag[k - 1] - mag[k + 1]) / (mag[k - 1] - 2.0 * mag[k] + mag[k + 1]);
    (k as f64 + offset) * f64::from(sr) / n as f64
}

/// The lag of the cross-correlation peak of `y` against `x` (positive when `y` is late),
/// searched in ±`max` samples; computed with FFTs.
fn lag(x: &[f32], y: &[f32], max: i64) -> i64 {
    let n = (x.len() + y.len()).next_power_of_two();
    let mut planner = realfft::RealFftPlanner::<f64>::new();
    let (fwd, inv) = (planner.plan_fft_forward(n), planner.plan_fft_inverse(n));
    let spectrum = |v: &[f32]| {
        let mut buf = vec![0.0; n];
        buf.iter_mut().zip(v).for_each(|(b, &s)| *b = f64::from(s));
        let mut out = fwd.make_output_vec();
        fwd.process(&mut buf, &mut out).unwrap();
        out
    };
    let (sx, sy) = (spectrum(x), spectrum(y));
    let mut cross: Vec<_> = sy.iter().zip(&sx).map(|(a, b)| a * b.conj()).collect();
    let mut c = vec![0.0; n];
    inv.process(&mut cross, &mut c).unwrap();
    (-max..=max)
        .max_by(|&a, &b| {
            let at = |l: i64| c[l.rem_euclid(n as i64) as usize];
            at(a).total_cmp(&at(b))
        })
        .unwrap()
}

/// Stereo test signal: 440 Hz left, 660 Hz right, with a rising envelope so a shift shows.
fn stereo(sr: u32) -> Vec<Vec<f32>> {
    let n = sr as usize;
    let env = |i: usize| i as f32 / n as f32;
    let l = tone(440.0, 0.4, 1.0, sr);
    let r = tone(660.0, 0.4, 1.0, sr);
    vec![
        l.iter().enumerate().map(|(i, v)| v * env(i)).collect(),
        r.iter().enumerate().map(|(i, v)| v * env(i)).collect(),
    ]
}

#[test]
fn every_format_decodes_to_the_signal_mixed_to_mono() {
    let dir = tempfile::tempdir().unwrap();
    let sr = 44_100;
    let planar = stereo(sr);
    let mono: Vec<f32> = planar[0]
        .iter()
        .zip(&planar[1])
        .map(|(a, b)| (a + b) / 2.0)
        .collect();
    let p = |name: &str| dir.path().join(name);
    // (file, exact length, max abs error for lossless formats)
    encode::wav(&p("int16.wav"), &planar, sr, 16, false);
    encode::wav(&p("int24.wav"), &planar, sr, 24, false);
    encode::wav(&p("float.wav"), &planar, sr, 32, true);
    encode::flac(&p("a.flac"), &planar, sr);
    encode::mp3(&p("a.mp3"), &planar, sr);
    encode::vorbis(&p("a.ogg"), &planar, sr);
    encode::adts(&p("a.aac"), &planar, sr);
    encode::m4a(&p("a.m4a"), &planar, sr);
    for (name, lossless) in [
        ("int16.wav", Some(1e-4)),
        ("int24.wav", Some(1e-6)),
        ("float.wav", Some(1e-7)),
        ("a.flac", Some(1e-4)),
        ("a.mp3", None),
        ("a.ogg", None),
        ("a.aac", None),
        ("a.m4a", None),
    ] {
        let audio = load(&p(name), None).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(audio.sample_rate_hz, sr, "{name}");
        match lossless {
            Some(tol) => {
                assert_eq!(audio.samples.len(), mono.len(), "{name}");
                let worst = audio
                    .samples
                    .iter()
                    .zip(&mono)
                    .map(|(a, b)| (a - b).abs())
                    .fold(0f32, f32::max);
                assert!(f64::from(worst) < tol, "{name}: {worst}");
            }
            None => {
                // Lossy: the level within 0.5 dB and the signal where it belongs. MP3 and Vorbis
                // are trimmed to the sample; AAC keeps its priming samples (symphonia does not
                // trim them), so its length and alignment only come within 2 frames.
                let n = audio.samples.len().min(mono.len());
                let level = 20.0 * (rms(&audio.samples[..n]) / rms(&mono[..n])).log10();
                let shift = lag(&mono, &audio.samples, 2100);
                let aac = name.ends_with("aac") || name.ends_with("m4a");
                if aac {
                    assert!(audio.samples.len().abs_diff(mono.len()) <= 4096, "{name}");
                    let shifted = &audio.samples[shift.max(0) as usize..];
                    let n = shifted.len().min(mono.len());
                    let level = 20.0 * (rms(&shifted[..n]) / rms(&mono[..n])).log10();
                    assert!(level.abs() < 0.5, "{name}: level {level} dB");
                } else {
                    assert_eq!(audio.samples.len(), mono.len(), "{name}");
                    assert_eq!(shift, 0, "{name}");
                    assert!(level.abs() < 0.5, "{name}: level {level} dB");
                }
            }
        }
    }
}

#[test]
fn a_1_khz_sine_resampled_from_44_1_to_16_khz_keeps_frequency_and_level() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("sine.wav");
    let x = tone(1000.0, 0.5, 2.0, 44_100);
    encode::wav(&path, std::slice::from_ref(&x), 44_100, 32, true);
    let y = load(&path, Some(16_000)).unwrap();
    assert_eq!(y.sample_rate_hz, 16_000);
    assert_eq!(y.samples.len(), 32_000);
    let inner = &y.samples[800..y.samples.len() - 800];
    let freq = peak_hz(inner, 16_000);
    assert!((freq - 1000.0).abs() < 0.5, "{freq} Hz");
    let level = 20.0 * (rms(inner) / rms(&x[2205..x.len() - 2205])).log10();
    assert!(level.abs() < 0.1, "level {level} dB");
}

#[test]
fn reading_in_blocks_and_windows_gives_the_samples_of_load() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("a.flac");
    let planar = stereo(44_100);
    encode::flac(&path, &planar, 44_100);
    for rate in [None, Some(22_050), Some(16_000)] {
        let whole = load(&path, rate).unwrap().samples;
        let mut reader = AudioReader::open(&path, rate).unwrap();
        let mut blocks = Vec::new();
        loop {
            let b = reader.read(333).unwrap();
            if b.is_empty() {
                break;
            }
            blocks.extend(b);
        }
        assert_eq!(blocks, whole, "{rate:?}");
        let (window, hop) = (2048, 512);
        let windows: Vec<_> = AudioReader::open(&path, rate)
            .unwrap()
            .windows(window, hop)
            .map(Result::unwrap)
            .collect();
        assert_eq!(
            windows.len(),
            1 + whole.len().saturating_sub(window).div_ceil(hop)
        );
        for w in &windows {
            let end = (w.start + window).min(whole.len());
            assert_eq!(&w.samples[..end - w.start], &whole[w.start..end]);
            assert!(w.samples[end - w.start..].iter().all(|&s| s == 0.0));
        }
    }
}

#[test]
fn a_ten_minute_file_streams_with_bounded_memory() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("long.wav");
    let sr = 8_000;
    encode::wav(&path, &[tone(440.0, 0.3, 600.0, sr)], sr, 16, false);
    let mut reader = AudioReader::open(&path, Some(16_000)).unwrap();
    assert_eq!(reader.header_duration_s(), Some(600.0));
    let mut total = 0;
    let mut most_buffered = 0;
    loop {
        let b = reader.read(16_000).unwrap();
        most_buffered = most_buffered.max(reader.buffered_samples());
        if b.is_empty() {
            break;
        }
        total += b.len();
    }
    assert_eq!(total, 600 * 16_000);
    assert!(
        most_buffered < 64 * 1024,
        "{most_buffered} samples buffered"
    );
}

fn decode_error(path: &Path) -> String {
    let err = load(path, None).unwrap_err();
    assert!(matches!(err, Error::Decode { .. }), "{err:?}");
    let text = err.to_string();
    assert!(text.contains(&path.display().to_string()), "{text}");
    text
}

#[test]
fn corrupt_truncated_and_unsupported_files_are_decode_errors_naming_the_path() {
    let dir = tempfile::tempdir().unwrap();
    let truncated = dir.path().join("truncated.wav");
    encode::wav(
        &truncated,
        &[tone(440.0, 0.3, 2.0, 8_000)],
        8_000,
        16,
        false,
    );
    let bytes = std::fs::read(&truncated).unwrap();
    std::fs::write(&truncated, &bytes[..bytes.len() / 2]).unwrap();
    assert!(decode_error(&truncated).contains("truncated"));

    let text = dir.path().join("notes.wav");
    std::fs::write(&text, "this is not audio").unwrap();
    decode_error(&text);

    let missing = dir.path().join("missing.flac");
    decode_error(&missing);

    let garbage = dir.path().join("garbage.mp3");
    std::fs::write(&garbage, vec![0x55u8; 10_000]).unwrap();
    decode_error(&garbage);
}
