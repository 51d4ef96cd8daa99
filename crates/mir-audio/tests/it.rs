//! The decoders against each other and against a reference decode: nanomp3 for MP3 and our
//! PCM reader for WAV must give the frames symphonia gives (the same length, and for PCM the
//! same bits), and the MP3 fixture must decode as libsndfile (mpg123) decodes it.

use std::path::{Path, PathBuf};

use mir_audio::{AudioReader, load};

fn data(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data")
        .join(name)
}

/// Every sample of `path` read to the end by symphonia.
fn symphonia(path: &Path, rate: Option<u32>) -> Vec<f32> {
    AudioReader::open_with_symphonia(path, rate)
        .unwrap()
        .read_to_end()
        .unwrap()
        .samples
}

fn max_abs_diff(a: &[f32], b: &[f32]) -> f32 {
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f32::max)
}

#[test]
fn mp3_decodes_gapless_as_the_reference_decoder_and_symphonia_do() {
    let path = data("gapless.mp3");
    let reference: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(data("gapless.json")).unwrap()).unwrap();
    let ours = load(&path, None).unwrap();
    assert_eq!(ours.sample_rate_hz, 44_100);
    // The encoder delay and padding are trimmed: the encoded WAV's length exactly.
    assert_eq!(
        ours.samples.len() as u64,
        reference["frames"].as_u64().unwrap()
    );
    assert_eq!(
        ours.samples.len() as u64,
        reference["source_frames"].as_u64().unwrap()
    );
    let step = reference["step"].as_u64().unwrap() as usize;
    let theirs: Vec<f32> = reference["mono_every_step"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_f64().unwrap() as f32)
        .collect();
    let sampled: Vec<f32> = ours.samples.iter().step_by(step).copied().collect();
    assert_eq!(sampled.len(), theirs.len());
    // Different decoders round differently (measured: 2.4e-7, one float step near 1), far
    // below 16-bit resolution (3e-5); a shift of one sample would differ by up to 0.05 here.

    let diff = max_abs_diff(&sampled, &theirs);
    assert!(diff < 1e-6, "max |ours - libsndfile| = {diff}");
    let by_symphonia = symphonia(&path, None);
    assert_eq!(by_symphonia.len(), ours.samples.len());
    let diff = max_abs_diff(&by_symphonia, &ours.samples);
    assert!(diff < 1e-6, "max |nanomp3 - symphonia| = {diff}");
}

#[test]
fn resampled_mp3_keeps_the_length_whichever_decoder() {
    let path = data("gapless.mp3");
    let ours = load(&path, Some(22_050)).unwrap().samples;
    let by_symphonia = symphonia(&path, Some(22_050));
    assert_eq!(ours.len(), 66_150 / 2);
    assert_eq!(by_symphonia.len(), ours.len());
    assert!(max_abs_diff(&ours, &by_symphonia) < 1e-6);
}

/// A test signal of `channels` channels, in [-1, 1], hitting both extremes.
fn signal(frames: usize, channels: usize) -> Vec<f32> {
    (0..frames * channels)
        .map(|i| {
            let x = ((i as f32) * 0.37).sin() * 1.2;
            x.clamp(-1.0, 1.0)
        })
        .collect()
}

/// Writes `frames` frames to `path` with hound in the given sample format.
fn write_wav(path: &Path, channels: u16, bits: u16, float: bool, frames: usize) {
    let spec = hound::WavSpec {
        channels,
        sample_rate: 44_100,
        bits_per_sample: bits,
        sample_format: if float {
            hound::SampleFormat::Float
        } else {
            hound::SampleFormat::Int
        },
    };
    let mut writer = hound::WavWriter::create(path, spec).unwrap();
    let full = ((1i64 << (bits - 1)) - 1) as f32;
    for x in signal(frames, usize::from(channels)) {
        match (float, bits) {
            (true, _) => writer.write_sample(x).unwrap(),
            (false, 8) => writer.write_sample((x * full) as i8).unwrap(),
            (false, 16) => writer.write_sample((x * full) as i16).unwrap(),
            (false, _) => writer
                .write_sample((f64::from(x) * f64::from(full)) as i32)
                .unwrap(),
        }
    }
    writer.finalize().unwrap();
}

#[test]
fn pcm_wav_reads_bit_for_bit_as_symphonia_reads_it() {
    let dir = tempfile::tempdir().unwrap();
    let formats = [
        (8, false),
        (16, false),
        (24, false),
        (32, false),
        (32, true),
    ];
    for (bits, float) in formats {
        for channels in [1, 2, 6] {
            let path = dir.path().join(format!("{bits}-{float}-{channels}.wav"));
            write_wav(&path, channels, bits, float, 3_000);
            for rate in [None, Some(16_000)] {
                let ours = load(&path, rate).unwrap().samples;
                assert_eq!(ours, symphonia(&path, rate), "{}", path.display());
            }
            let file = std::fs::File::open(&path).unwrap();
            let (planar, rate) = mir_audio::decode_planar(Box::new(file), &path).unwrap();
            assert_eq!((planar.len(), rate), (usize::from(channels), 44_100));
            assert!(planar.iter().all(|c| c.len() == 3_000));
        }
    }
}

/// `wav` with a chunk of `size` bytes (odd: padded) inserted before its `data` chunk.
fn with_chunk_before_data(wav: &[u8], size: u32) -> Vec<u8> {
    let at = wav.windows(4).position(|w| w == b"data").unwrap();
    let mut chunk = b"JUNK".to_vec();
    chunk.extend(size.to_le_bytes());
    chunk.extend(std::iter::repeat_n(
        b'x',
        size as usize + (size as usize & 1),
    ));
    let mut out = [&wav[..at], &chunk[..], &wav[at..]].concat();
    let riff = (out.len() - 8) as u32;
    out[4..8].copy_from_slice(&riff.to_le_bytes());
    out
}

#[test]
fn chunks_before_the_data_are_skipped_and_a_truncated_wav_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let plain = dir.path().join("plain.wav");
    write_wav(&plain, 2, 16, false, 44_100);
    let bytes = std::fs::read(&plain).unwrap();
    let padded = dir.path().join("padded.wav");
    std::fs::write(&padded, with_chunk_before_data(&bytes, 5)).unwrap();
    let ours = load(&padded, None).unwrap().samples;
    assert_eq!(ours, symphonia(&padded, None));
    assert_eq!(ours, load(&plain, None).unwrap().samples);

    let truncated = dir.path().join("truncated.wav");
    std::fs::write(&truncated, &bytes[..bytes.len() / 2]).unwrap();
    let err = match load(&truncated, None) {
        Ok(audio) => panic!("{} samples from a truncated file", audio.samples.len()),
        Err(e) => e.to_string(),
    };
    assert!(
        err.contains("truncated.wav") && err.contains("truncated"),
        "{err}"
    );
}
