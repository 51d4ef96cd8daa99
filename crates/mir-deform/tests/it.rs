//! Every deformation measured on generated signals: the SNR, gain, alignment, pitch, duration
//! and slope it claims, and bit-identical reruns.

use std::f64::consts::PI;
use std::path::Path;

use mir_deform::filter::{BandPass, HighPass, LowPass};
use mir_deform::level::{Clipping, Gain};
use mir_deform::mp3::Mp3;
use mir_deform::noise::{BackgroundNoise, WhiteNoise};
use mir_deform::pitch::{PitchShift, TimeStretch};
use mir_deform::reverb::{ImpulseResponse, RoomReverb, convolve, measure_rt60_s, room_ir};
use mir_deform::{Audio, Deformation, Scenario, Step, apply, rms, scenario_rng};
use realfft::RealFftPlanner;
use serde_json::Value;

const SR: u32 = 22_050;

fn sine(freq: f64, seconds: f64, sr: u32) -> Vec<f32> {
    let n = (seconds * f64::from(sr)).round() as usize;
    (0..n)
        .map(|i| (0.5 * (2.0 * PI * freq * i as f64 / f64::from(sr)).sin()) as f32)
        .collect()
}

/// Seeded Gaussian noise, as test input.
fn noise(n: usize, seed: u64) -> Vec<f32> {
    let mut audio = Audio::mono(vec![0.0; n], SR);
    // White noise at 0 dB SNR of a constant signal gives noise of that RMS.
    audio.channels[0].fill(0.25);
    step(
        Step::WhiteNoise(WhiteNoise { snr_db: 0.0 }),
        &mut audio,
        seed,
    );
    audio.channels[0].iter().map(|s| s - 0.25).collect()
}

fn step(step: Step, audio: &mut Audio, seed: u64) {
    apply(&Scenario::new(vec![step]), "test", seed, "track", audio).unwrap();
}

fn deformed(s: Step, input: &[f32], sr: u32) -> Vec<f32> {
    let mut audio = Audio::mono(input.to_vec(), sr);
    step(s, &mut audio, 0);
    audio.into_mono()
}

fn db(ratio: f64) -> f64 {
    20.0 * ratio.log10()
}

/// Signal-to-noise ratio in dB of `noisy` against `clean` (the difference is the noise).
fn snr_db(clean: &[f32], noisy: &[f32]) -> f64 {
    let residual: Vec<f32> = noisy.iter().zip(clean).map(|(a, b)| a - b).collect();
    db(rms(clean) / rms(&residual))
}

/// The frequency of the strongest spectral peak, refined by parabolic interpolation on the
/// log magnitude of a Hann-windowed FFT.
fn peak_hz(x: &[f32], sr: u32) -> f64 {
    let n = x.len().next_power_of_two() * 4;
    let mut planner = RealFftPlanner::<f64>::new();
    let fft = planner.plan_fft_forward(n);
    let mut buf = vec![0.0; n];
    for (i, &v) in x.iter().enumerate() {
        let w = 0.5 - 0.5 * (2.0 * PI * i as f64 / x.len() as f64).cos();
        buf[i] = f64::from(v) * w;
    }
    let mut spec = fft.make_output_vec();
    fft.process(&mut buf, &mut spec).unwrap();
    let mag: Vec<f64> = spec.iter().map(|c| c.norm().max(1e-30).ln()).collect();
    let k = (1..mag.len() - 1)
        .max_by(|&a, &b| mag[a].total_cmp(&mag[b]))
        .unwrap();
    let (a, b, c) = (mag[k - 1], mag[k], mag[k + 1]);
    let offset = 0.5 * (a - c) / (a - 2.0 * b + c);
    (k as f64 + offset) * f64::from(sr) / n as f64
}

/// Energy in dB of the band [lo, hi) Hz.
fn band_db(x: &[f32], sr: u32, lo: f64, hi: f64) -> f64 {
    let n = x.len();
    let mut planner = RealFftPlanner::<f64>::new();
    let fft = planner.plan_fft_forward(n);
    let mut buf: Vec<f64> = x.iter().map(|&v| f64::from(v)).collect();
    let mut spec = fft.make_output_vec();
    fft.process(&mut buf, &mut spec).unwrap();
    let energy: f64 = spec
        .iter()
        .enumerate()
        .filter(|(k, _)| {
            let f = *k as f64 * f64::from(sr) / n as f64;
            f >= lo && f < hi
        })
        .map(|(_, c)| c.norm_sqr())
        .sum();
    10.0 * energy.max(1e-30).log10()
}

/// The lag (in samples, positive when `y` is late) of the cross-correlation peak.
fn xcorr_lag(x: &[f32], y: &[f32], max_lag: usize) -> i64 {
    let reversed: Vec<f32> = x.iter().rev().copied().collect();
    let c = convolve(y, &reversed);
    let zero = x.len() - 1;
    (zero - max_lag..=zero + max_lag)
        .max_by(|&a, &b| c[a].total_cmp(&c[b]))
        .map(|k| k as i64 - zero as i64)
        .unwrap()
}

fn write_wav(path: &Path, samples: &[f32], sr: u32) {
    let spec = hound::WavSpec {
        channels: 1,
        sample_rate: sr,
        bits_per_sample: 32,
        sample_format: hound::SampleFormat::Float,
    };
    let mut w = hound::WavWriter::create(path, spec).unwrap();
    samples.iter().for_each(|&s| w.write_sample(s).unwrap());
    w.finalize().unwrap();
}

fn reference() -> Value {
    serde_json::from_str(include_str!("data/reference.json")).unwrap()
}

fn floats(v: &Value) -> Vec<f64> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_f64().unwrap())
        .collect()
}

#[test]
fn white_noise_hits_the_snr_within_a_tenth_of_a_db() {
    let clean = sine(440.0, 5.0, SR);
    for target in [0.0, 10.0, 20.0, 30.0] {
        let noisy = deformed(Step::WhiteNoise(WhiteNoise { snr_db: target }), &clean, SR);
        let measured = snr_db(&clean, &noisy);
        assert!(
            (measured - f64::from(target)).abs() < 0.1,
            "target {target} measured {measured}"
        );
    }
}

#[test]
fn same_seed_same_samples_other_seed_scenario_or_track_other_noise() {
    let s = Scenario::new(vec![
        Step::WhiteNoise(WhiteNoise { snr_db: 10.0 }),
        Step::RoomReverb(RoomReverb {
            rt60_s: 0.2,
            leave_length_unchanged: true,
        }),
    ]);
    let run = |seed, name: &str, track: &str| {
        let mut a = Audio::mono(sine(440.0, 0.5, SR), SR);
        apply(&s, name, seed, track, &mut a).unwrap();
        a
    };
    assert_eq!(run(1, "n", "t"), run(1, "n", "t"));
    assert_ne!(run(1, "n", "t"), run(2, "n", "t"));
    assert_ne!(run(1, "n", "t"), run(1, "m", "t"));
    assert_ne!(run(1, "n", "t"), run(1, "n", "u"));
}

#[test]
fn gain_is_exact_to_a_hundredth_of_a_db() {
    let clean = sine(440.0, 1.0, SR);
    for gain_db in [-30.0, -6.0, 0.0, 3.5] {
        let out = deformed(Step::Gain(Gain { gain_db }), &clean, SR);
        let measured = db(rms(&out) / rms(&clean));
        assert!(
            (measured - f64::from(gain_db)).abs() < 0.01,
            "{gain_db}: {measured}"
        );
    }
}

#[test]
fn clipping_clips_the_requested_share_of_samples() {
    let x = noise(100_000, 3);
    for p in [2.0_f32, 20.0, 50.0] {
        let out = deformed(
            Step::Clipping(Clipping {
                percentile_threshold: p,
            }),
            &x,
            SR,
        );
        let (lo, hi) = out
            .iter()
            .fold((f32::MAX, f32::MIN), |(a, b), &v| (a.min(v), b.max(v)));
        let clipped = out.iter().filter(|&&v| v == lo || v == hi).count();
        let share = 100.0 * clipped as f64 / out.len() as f64;
        assert!((share - f64::from(p)).abs() < 0.01, "{p}%: {share}%");
        // Symmetric: half at each end.
        let low = out.iter().filter(|&&v| v == lo).count() as f64;
        assert!((low / clipped as f64 - 0.5).abs() < 0.01);
    }
}

#[test]
fn mp3_round_trip_is_time_aligned_and_keeps_the_length() {
    // (rate, channels, bitrate): with the LAME tag, and without (frames too small for it).
    for (sr, channels, bitrate) in [
        (44_100, 1, 64),
        (22_050, 1, 64),
        (44_100, 2, 128),
        (16_000, 1, 64),
        (22_050, 1, 32),
        (8_000, 1, 8),
        (96_000, 1, 128),
    ] {
        let x: Vec<Vec<f32>> = (0..channels)
            .map(|c| {
                let tone = sine(1000.0 + 200.0 * c as f64, 1.0, sr);
                let n = noise(tone.len(), c as u64);
                tone.iter().zip(n).map(|(a, b)| a * 0.5 + b * 0.5).collect()
            })
            .collect();
        let mut audio = Audio {
            channels: x.clone(),
            sample_rate_hz: sr,
        };
        step(Step::Mp3(Mp3 { bitrate }), &mut audio, 0);
        assert_eq!(audio.channels.len(), channels);
        for (input, output) in x.iter().zip(&audio.channels) {
            assert_eq!(output.len(), input.len(), "{sr} Hz, {channels} ch");
            // The issue asks for the peak within 1 ms of lag 0; it is exactly at 0.
            let lag = xcorr_lag(input, output, 2000);
            assert_eq!(lag, 0, "{sr} Hz {bitrate} kbps: lag {lag} samples");
            // Every part survives, the last frames too: level within 1.5 dB in each tenth.
            let tenth = input.len() / 10;
            for (k, (a, b)) in input.chunks(tenth).zip(output.chunks(tenth)).enumerate() {
                let change = db(rms(b) / rms(a));
                assert!(
                    change.abs() < 1.5,
                    "{sr} Hz {bitrate} kbps, tenth {k}: {change} dB"
                );
            }
            // The tone survives: the output correlates with the input.
            assert!(snr_db(input, output) > 1.0, "{sr} Hz {bitrate} kbps");
        }
    }
}

#[test]
fn mp3_is_band_limited_as_the_bitrate_implies() {
    let x = noise(4 * 44_100, 7);
    let bands = |y: &[f32]| {
        (
            band_db(y, 44_100, 2_000.0, 8_000.0),
            band_db(y, 44_100, 17_000.0, 22_050.0),
        )
    };
    let (mid_in, top_in) = bands(&x);
    let mut top_loss = Vec::new();
    for bitrate in [64, 128, 320] {
        let y = deformed(Step::Mp3(Mp3 { bitrate }), &x, 44_100);
        let (mid, top) = bands(&y);
        // The pass band is kept within 1 dB ...
        assert!(
            (mid - mid_in).abs() < 1.0,
            "{bitrate} kbps: mid band {}",
            mid - mid_in
        );
        top_loss.push(top_in - top);
    }
    // ... and the band above 17 kHz is removed at 64 kbps (LAME's low-pass there is near 15
    // kHz), less so as the bitrate rises.
    assert!(top_loss[0] > 30.0, "{top_loss:?}");
    assert!(
        top_loss[0] > top_loss[1] && top_loss[1] > top_loss[2],
        "{top_loss:?}"
    );
    assert!(top_loss[2] < 10.0, "{top_loss:?}");
}

#[test]
fn pitch_shift_moves_a_440_hz_sine_by_two_semitones_and_keeps_the_duration() {
    let x = sine(440.0, 2.0, SR);
    assert!((peak_hz(&x, SR) - 440.0).abs() < 0.1);
    for (semitones, want) in [(2.0, 493.883), (-3.0, 369.994), (12.0, 880.0)] {
        let y = deformed(Step::PitchShift(PitchShift { semitones }), &x, SR);
        assert_eq!(y.len(), x.len());
        let measured = peak_hz(&y[SR as usize / 4..y.len() - SR as usize / 4], SR);
        assert!((measured - want).abs() < 1.0, "{semitones}: {measured} Hz");
    }
}

#[test]
fn time_stretch_changes_the_duration_and_keeps_the_pitch() {
    let x = sine(440.0, 2.0, SR);
    for rate in [1.25_f32, 0.8] {
        let y = deformed(
            Step::TimeStretch(TimeStretch {
                rate,
                leave_length_unchanged: false,
            }),
            &x,
            SR,
        );
        let want = (x.len() as f64 / f64::from(rate)).round() as usize;
        assert_eq!(y.len(), want);
        let measured = peak_hz(&y[SR as usize / 4..y.len() - SR as usize / 4], SR);
        assert!((measured - 440.0).abs() < 1.0, "{rate}: {measured} Hz");
    }
    let kept = deformed(
        Step::TimeStretch(TimeStretch {
            rate: 1.25,
            leave_length_unchanged: true,
        }),
        &x,
        SR,
    );
    assert_eq!(kept.len(), x.len());
}

#[test]
fn time_stretch_matches_librosa() {
    let t: Vec<f64> = (0..SR as usize / 2)
        .map(|i| i as f64 / f64::from(SR))
        .collect();
    let last = *t.last().unwrap();
    let x: Vec<f32> = t
        .iter()
        .map(|&t| {
            (0.5 * (2.0 * PI * 440.0 * t).sin() + 0.3 * (2.0 * PI * 1234.5 * t).sin() * (t / last))
                as f32
        })
        .collect();
    for case in reference()["time_stretch"].as_array().unwrap() {
        let rate = case["rate"].as_f64().unwrap() as f32;
        let y = deformed(
            Step::TimeStretch(TimeStretch {
                rate,
                leave_length_unchanged: false,
            }),
            &x,
            SR,
        );
        assert_eq!(y.len() as u64, case["len"].as_u64().unwrap());
        let want = floats(&case["every_25th"]);
        let worst = y
            .iter()
            .step_by(25)
            .zip(&want)
            .map(|(a, b)| (f64::from(*a) - b).abs())
            .fold(0.0, f64::max);
        // Both run in f64; the output is rounded to f32.
        assert!(worst < 1e-6, "rate {rate}: max abs difference {worst}");
    }
}

#[test]
fn butterworth_impulse_responses_match_scipy() {
    for case in reference()["butter"].as_array().unwrap() {
        let order = case["order"].as_u64().unwrap() as u32;
        let cutoff_frequency = case["cutoff"].as_f64().unwrap() as f32;
        let rolloff = order * 6;
        let step = match case["kind"].as_str().unwrap() {
            "lowpass" => Step::LowPass(LowPass {
                cutoff_frequency,
                rolloff,
            }),
            _ => Step::HighPass(HighPass {
                cutoff_frequency,
                rolloff,
            }),
        };
        let want = floats(&case["impulse"]);
        let mut impulse = vec![0.0; want.len()];
        impulse[0] = 1.0;
        let got = deformed(step, &impulse, SR);
        for (i, (g, w)) in got.iter().zip(&want).enumerate() {
            assert!(
                (f64::from(*g) - w).abs() < 1e-6,
                "order {order} sample {i}: {g} vs {w}"
            );
        }
    }
}

/// Steady-state level change of a tone through a filter, in dB.
fn tone_gain_db(step: Step, freq: f64) -> f64 {
    let x = sine(freq, 1.0, SR);
    let y = deformed(step, &x, SR);
    let settle = SR as usize / 4;
    db(rms(&y[settle..]) / rms(&x[settle..]))
}

#[test]
fn filters_attenuate_an_octave_past_the_cutoff_by_their_slope() {
    for rolloff in [6, 12, 18, 24, 48] {
        let slope = f64::from(rolloff);
        let low = Step::LowPass(LowPass {
            cutoff_frequency: 1000.0,
            rolloff,
        });
        assert!(
            tone_gain_db(low.clone(), 2000.0) <= -slope,
            "low-pass {rolloff}"
        );
        assert!(
            tone_gain_db(low.clone(), 250.0) > -0.5,
            "low-pass {rolloff} pass band"
        );
        assert!(
            (tone_gain_db(low, 1000.0) + 3.01).abs() < 0.1,
            "low-pass {rolloff} at cutoff"
        );
        let high = Step::HighPass(HighPass {
            cutoff_frequency: 1000.0,
            rolloff,
        });
        assert!(
            tone_gain_db(high.clone(), 500.0) <= -slope,
            "high-pass {rolloff}"
        );
        assert!(
            tone_gain_db(high, 4000.0) > -0.5,
            "high-pass {rolloff} pass band"
        );
        let band = BandPass {
            center_frequency: 1000.0,
            bandwidth_fraction: 1.0,
            rolloff,
        };
        let (lo, hi) = band.edges();
        assert_eq!((lo, hi), (500.0, 1500.0));
        let band = Step::BandPass(band);
        assert!(
            tone_gain_db(band.clone(), 250.0) <= -slope,
            "band-pass {rolloff} below"
        );
        assert!(
            tone_gain_db(band.clone(), 3000.0) <= -slope,
            "band-pass {rolloff} above"
        );
        // In the pass band: the product of the two Butterworth magnitudes.
        let n = f64::from(rolloff / 3);
        let f: f64 = 900.0;
        let want = -10.0 * (1.0 + (500.0 / f).powf(n)).log10()
            - 10.0 * (1.0 + (f / 1500.0).powf(n)).log10();
        let got = tone_gain_db(band, f);
        assert!(
            (got - want).abs() < 0.05,
            "band-pass {rolloff} at {f} Hz: {got} dB, want {want}"
        );
    }
}

#[test]
fn impulse_response_files_are_convolved_as_recorded() {
    let dir = tempfile::tempdir().unwrap();
    // A 10 ms echo at half amplitude, and a plain delay of 5 samples.
    let mut echo = vec![0.0; 221];
    echo[220] = 0.5;
    write_wav(&dir.path().join("a_echo.wav"), &echo, SR);
    let mut delay = vec![0.0; 6];
    delay[5] = 1.0;
    write_wav(&dir.path().join("b_delay.wav"), &delay, SR);
    let x = noise(5000, 1);
    let mut seen = std::collections::BTreeSet::new();
    for track in 0..12 {
        let s = Scenario::new(vec![Step::ImpulseResponse(ImpulseResponse {
            ir_path: dir.path().to_path_buf(),
            leave_length_unchanged: false,
        })]);
        let mut audio = Audio::mono(x.clone(), SR);
        apply(&s, "ir", 0, &track.to_string(), &mut audio).unwrap();
        let y = &audio.channels[0];
        let (len, shift, gain) = if y.len() == x.len() + 220 {
            (x.len() + 220, 220, 0.5)
        } else {
            (x.len() + 5, 5, 1.0)
        };
        assert_eq!(y.len(), len);
        seen.insert(shift);
        for i in 0..x.len() {
            assert!(
                (y[i + shift] - gain * x[i]).abs() < 1e-5,
                "track {track} sample {i}"
            );
        }
    }
    assert_eq!(seen.len(), 2, "both files are drawn over 12 tracks");
}

#[test]
fn room_reverb_decays_in_the_requested_rt60() {
    for rt60 in [0.3, 0.8, 1.5] {
        let ir = room_ir(rt60, SR, &mut scenario_rng(0, "room", "t"));
        let energy: f64 = ir.iter().map(|&v| f64::from(v).powi(2)).sum();
        assert!((energy - 1.0).abs() < 1e-4);
        let measured = measure_rt60_s(&ir, SR).unwrap();
        assert!(
            (measured / rt60 - 1.0).abs() < 0.05,
            "rt60 {rt60}: measured {measured}"
        );
    }
    let x = sine(440.0, 1.0, SR);
    let y = deformed(
        Step::RoomReverb(RoomReverb {
            rt60_s: 0.5,
            leave_length_unchanged: true,
        }),
        &x,
        SR,
    );
    assert_eq!(y.len(), x.len());
}

#[test]
fn fft_convolution_equals_direct_convolution() {
    let x = noise(10_000, 1);
    let h = noise(3000, 2);
    let fast = convolve(&x, &h);
    assert_eq!(fast.len(), x.len() + h.len() - 1);
    for i in (0..fast.len()).step_by(97) {
        let direct: f64 = (0..h.len())
            .filter(|&j| i >= j && i - j < x.len())
            .map(|j| f64::from(x[i - j]) * f64::from(h[j]))
            .sum();
        assert!((f64::from(fast[i]) - direct).abs() < 1e-3, "sample {i}");
    }
}

#[test]
fn background_noise_hits_the_snr_and_draws_files_by_seed() {
    let dir = tempfile::tempdir().unwrap();
    write_wav(&dir.path().join("long.wav"), &noise(3 * 22_050, 11), SR);
    // Shorter than the signal: repeated. At 44.1 kHz: resampled.
    write_wav(&dir.path().join("short.wav"), &noise(2_000, 12), 44_100);
    std::fs::write(dir.path().join("notes.txt"), "not audio").unwrap();
    let clean = sine(440.0, 1.0, SR);
    let s = Scenario::new(vec![Step::BackgroundNoise(BackgroundNoise {
        sounds_path: dir.path().to_path_buf(),
        snr_db: 12.0,
    })]);
    let mut outputs = Vec::new();
    for track in ["a", "b", "c", "d", "e", "f"] {
        let mut audio = Audio::mono(clean.clone(), SR);
        apply(&s, "bg", 0, track, &mut audio).unwrap();
        let y = audio.into_mono();
        let measured = snr_db(&clean, &y);
        assert!((measured - 12.0).abs() < 0.1, "{track}: {measured}");
        let mut again = Audio::mono(clean.clone(), SR);
        apply(&s, "bg", 0, track, &mut again).unwrap();
        assert_eq!(again.into_mono(), y, "rerun of {track}");
        outputs.push(y);
    }
    outputs.dedup();
    assert_eq!(outputs.len(), 6);

    let empty = tempfile::tempdir().unwrap();
    let missing = BackgroundNoise {
        sounds_path: empty.path().to_path_buf(),
        snr_db: 10.0,
    };
    let err = missing.validate().unwrap_err().to_string();
    assert!(
        err.contains("holds no audio file") && err.contains("wav"),
        "{err}"
    );
}

#[test]
fn every_step_keeps_stereo_channels_in_step() {
    let dir = tempfile::tempdir().unwrap();
    write_wav(&dir.path().join("n.wav"), &noise(30_000, 1), SR);
    let mut ir = vec![0.0; 100];
    ir[0] = 1.0;
    ir[99] = 0.3;
    write_wav(&dir.path().join("ir.wav"), &ir, SR);
    let steps = [
        Step::WhiteNoise(WhiteNoise { snr_db: 10.0 }),
        Step::BackgroundNoise(BackgroundNoise {
            sounds_path: dir.path().join("n.wav"),
            snr_db: 10.0,
        }),
        Step::Gain(Gain { gain_db: -3.0 }),
        Step::Clipping(Clipping {
            percentile_threshold: 10.0,
        }),
        Step::Mp3(Mp3 { bitrate: 128 }),
        Step::PitchShift(PitchShift { semitones: 1.0 }),
        Step::TimeStretch(TimeStretch {
            rate: 1.1,
            leave_length_unchanged: false,
        }),
        Step::LowPass(LowPass {
            cutoff_frequency: 3000.0,
            rolloff: 12,
        }),
        Step::HighPass(HighPass {
            cutoff_frequency: 300.0,
            rolloff: 12,
        }),
        Step::BandPass(BandPass {
            center_frequency: 1000.0,
            bandwidth_fraction: 0.5,
            rolloff: 12,
        }),
        Step::ImpulseResponse(ImpulseResponse {
            ir_path: dir.path().join("ir.wav"),
            leave_length_unchanged: true,
        }),
        Step::RoomReverb(RoomReverb {
            rt60_s: 0.3,
            leave_length_unchanged: true,
        }),
    ];
    assert_eq!(steps.len(), Step::NAMES.len(), "every step is exercised");
    for s in steps {
        let mut audio = Audio {
            channels: vec![sine(440.0, 0.5, SR), sine(660.0, 0.5, SR)],
            sample_rate_hz: SR,
        };
        let name = s.name();
        step(s, &mut audio, 0);
        assert_eq!(audio.channels.len(), 2, "{name}");
        assert_eq!(audio.channels[0].len(), audio.channels[1].len(), "{name}");
        assert!(audio.channels[0].len() > SR as usize / 3, "{name}");
        assert_ne!(audio.channels[0], audio.channels[1], "{name}");
        assert!(
            audio.channels.iter().flatten().all(|s| s.is_finite()),
            "{name}"
        );
    }
}

#[test]
fn configs_name_valid_steps_and_parameters() {
    let parse = |json: &str| serde_json::from_str::<Scenario>(json);
    let s = parse(r#"{"steps":[{"type":"white_noise","snr_db":15}]}"#).unwrap();
    assert_eq!(s.steps, vec![Step::WhiteNoise(WhiteNoise { snr_db: 15.0 })]);

    let err = parse(r#"{"steps":[{"type":"white_noise","snr":15}]}"#).unwrap_err();
    assert!(
        err.to_string()
            .contains("unknown field `snr`, expected `snr_db`"),
        "{err}"
    );
    let err = parse(r#"{"steps":[{"type":"reverb","rt60_s":1}]}"#).unwrap_err();
    for name in Step::NAMES {
        assert!(err.to_string().contains(name), "{err}");
    }
    let bad = Scenario::new(vec![
        Step::Gain(Gain { gain_db: 1.0 }),
        Step::Mp3(Mp3 { bitrate: 100 }),
    ]);
    let (index, err) = bad.validate().unwrap_err();
    assert_eq!(index, 1);
    assert!(err.to_string().contains("valid: 8, 16, 24, 32"), "{err}");

    let line =
        mir_deform::spec::parse("low_pass cutoff_frequency=4000 rolloff=24 | mp3 bitrate=64")
            .unwrap();
    assert_eq!(
        line.steps[0],
        Step::LowPass(LowPass {
            cutoff_frequency: 4000.0,
            rolloff: 24
        })
    );
    let err = mir_deform::spec::parse("low_pass cutoff=4000").unwrap_err();
    assert!(
        err.contains("unknown field `cutoff`") && err.contains("cutoff_frequency"),
        "{err}"
    );
    let err = mir_deform::spec::parse("clipping percentile_threshold=120").unwrap_err();
    assert!(err.contains("[0, 100)"), "{err}");
}
