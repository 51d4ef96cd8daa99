//! Sun/NeXT `.au` files (older GTZAN copies ship them), which symphonia does not read: the
//! 24-byte big-endian header (`.snd`, data offset, data size, encoding, rate, channels) and
//! the samples, decoded here and handed on as an in-memory 32-bit float WAV.

use std::path::Path;

use crate::{Error, Result};

/// The header's fields.
struct Header {
    offset: usize,
    size: Option<usize>,
    encoding: u32,
    rate: u32,
    channels: usize,
}

/// Whether `path` names an AU file by its extension (`.au`, `.snd`).
pub(crate) fn is_au(path: &Path) -> bool {
    path.extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| e.eq_ignore_ascii_case("au") || e.eq_ignore_ascii_case("snd"))
}

/// The AU file `bytes` (named `path` in errors), mixed to mono, as a 32-bit float WAV at its
/// own rate: samples converted as symphonia converts the same PCM in a WAV (`s / 2^(bits-1)`).
pub(crate) fn to_wav(bytes: &[u8], path: &Path) -> Result<Vec<u8>> {
    let bad = |reason: String| Error::Decode {
        path: path.to_path_buf(),
        reason: format!("AU file: {reason}"),
    };
    let header = header(bytes).map_err(bad)?;
    let end = header
        .size
        .map_or(bytes.len(), |s| (header.offset + s).min(bytes.len()));
    let data = bytes
        .get(header.offset..end)
        .ok_or_else(|| bad("data offset past the end".into()))?;
    let samples = samples(data, header.encoding).map_err(bad)?;
    let mono = crate::mix_down(&samples, header.channels);
    float_wav(&mono, header.rate).map_err(|e| bad(e.to_string()))
}

fn header(bytes: &[u8]) -> std::result::Result<Header, String> {
    let word = |i: usize| -> std::result::Result<u32, String> {
        let b = bytes
            .get(i * 4..i * 4 + 4)
            .ok_or("shorter than its 24-byte header")?;
        Ok(u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    };
    if word(0)? != 0x2e73_6e64 {
        return Err("no `.snd` magic number".into());
    }
    let (offset, size, encoding, rate, channels) =
        (word(1)?, word(2)?, word(3)?, word(4)?, word(5)?);
    if offset < 24 || rate == 0 || channels == 0 {
        return Err(format!(
            "header offset {offset}, rate {rate}, channels {channels}"
        ));
    }
    Ok(Header {
        offset: offset as usize,
        size: (size != u32::MAX).then_some(size as usize),
        encoding,
        rate,
        channels: channels as usize,
    })
}

/// Interleaved samples in `[-1, 1]` from the data of `encoding`.
fn samples(data: &[u8], encoding: u32) -> std::result::Result<Vec<f32>, String> {
    let be = |c: &[u8]| c.iter().fold(0i64, |v, b| (v << 8) | i64::from(*b));
    let signed = |width: usize| {
        let scale = (1i64 << (8 * width - 1)) as f32;
        move |c: &[u8]| {
            let shift = 64 - 8 * width as u32;
            ((be(c) << shift) >> shift) as f32 / scale
        }
    };
    let pcm = |width: usize| data.chunks_exact(width).map(signed(width)).collect();
    Ok(match encoding {
        1 => data
            .iter()
            .map(|b| f32::from(mu_law(*b)) / 32768.0)
            .collect(),
        2 => pcm(1),
        3 => pcm(2),
        4 => pcm(3),
        5 => pcm(4),
        6 => data
            .chunks_exact(4)
            .map(|c| f32::from_be_bytes([c[0], c[1], c[2], c[3]]))
            .collect(),
        7 => data
            .chunks_exact(8)
            .map(|c| f64::from_be_bytes(c.try_into().unwrap_or([0; 8])) as f32)
            .collect(),
        27 => data
            .iter()
            .map(|b| f32::from(a_law(*b)) / 32768.0)
            .collect(),
        other => {
            return Err(format!(
                "encoding {other} is not supported (1-7 and 27 are)"
            ));
        }
    })
}

/// G.711 mu-law to 16-bit linear.
fn mu_law(byte: u8) -> i16 {
    let u = !byte;
    let t = ((i32::from(u & 0x0f) << 3) + 0x84) << ((u & 0x70) >> 4);
    let v = if u & 0x80 != 0 { 0x84 - t } else { t - 0x84 };
    v as i16
}

/// G.711 A-law to 16-bit linear.
fn a_law(byte: u8) -> i16 {
    let a = byte ^ 0x55;
    let mut t = i32::from(a & 0x0f) << 4;
    let segment = (a & 0x70) >> 4;
    t = match segment {
        0 => t + 8,
        1 => t + 0x108,
        s => (t + 0x108) << (s - 1),
    };
    (if a & 0x80 != 0 { t } else { -t }) as i16
}

/// A mono 32-bit float WAV in memory.
fn float_wav(samples: &[f32], rate: u32) -> std::result::Result<Vec<u8>, hound::Error> {
    let spec = hound::WavSpec {
        channels: 1,
        sample_rate: rate,
        bits_per_sample: 32,
        sample_format: hound::SampleFormat::Float,
    };
    let mut cursor = std::io::Cursor::new(Vec::new());
    let mut writer = hound::WavWriter::new(&mut cursor, spec)?;
    for s in samples {
        writer.write_sample(*s)?;
    }
    writer.finalize()?;
    Ok(cursor.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn g711_reference_values() {
        // ITU-T G.711 decoding: 0xff and 0x7f are mu-law's zeros, 0x00 its most negative.
        assert_eq!(mu_law(0xff), 0);
        assert_eq!(mu_law(0x7f), 0);
        assert_eq!(mu_law(0x00), -32124);
        assert_eq!(mu_law(0x80), 32124);
        // A-law: 0xd5 and 0x55 are the smallest magnitudes (+-8), 0xaa / 0x2a the largest.
        assert_eq!(a_law(0xd5), 8);
        assert_eq!(a_law(0x55), -8);
        assert_eq!(a_law(0xaa), 32256);
        assert_eq!(a_law(0x2a), -32256);
        // Against CPython 3.11.7's audioop.ulaw2lin / alaw2lin over all 256 codes: these
        // sums of the values and of their magnitudes.
        let sums = |f: fn(u8) -> i16| {
            let v: Vec<i64> = (0..=255u8).map(|b| i64::from(f(b))).collect();
            (
                v.iter().sum::<i64>(),
                v.iter().map(|x| x.abs()).sum::<i64>(),
            )
        };
        assert_eq!(sums(mu_law), (0, 1_532_928));
        assert_eq!(sums(a_law), (0, 1_564_672));
        assert_eq!(
            (mu_law(0x12), mu_law(0x9c), a_law(0x12), a_law(0x9c)),
            (-14972, 9852, -3008, 3264)
        );
    }

    /// An AU file and its WAV twin (the same PCM, stereo, 16 and 24 bits) decode to the same
    /// samples, at their own rate and resampled.
    #[test]
    fn au_decodes_as_its_wav_twin() {
        let dir = tempfile::tempdir().unwrap();
        let rate = 22_050u32;
        for bits in [16u16, 24] {
            let peak = (1i32 << (bits - 1)) - 1;
            let frames: Vec<[i32; 2]> = (0..30_000)
                .map(|i| {
                    let t = i as f64 / f64::from(rate);
                    let l =
                        (0.6 * (std::f64::consts::TAU * 440.0 * t).sin() * f64::from(peak)) as i32;
                    let r = ((i * 7919) % (2 * peak as usize)) as i32 - peak;
                    [l, r]
                })
                .collect();
            let wav = dir.path().join(format!("twin{bits}.wav"));
            let spec = hound::WavSpec {
                channels: 2,
                sample_rate: rate,
                bits_per_sample: bits,
                sample_format: hound::SampleFormat::Int,
            };
            let mut w = hound::WavWriter::create(&wav, spec).unwrap();
            for [l, r] in &frames {
                w.write_sample(*l).unwrap();
                w.write_sample(*r).unwrap();
            }
            w.finalize().unwrap();
            let width = usize::from(bits / 8);
            let mut au = Vec::new();
            for word in [
                0x2e73_6e64u32,
                28,
                (frames.len() * 2 * width) as u32,
                u32::from(bits / 8) + 1,
                rate,
                2,
                0,
            ] {
                au.extend(word.to_be_bytes());
            }
            for s in frames.iter().flatten() {
                au.extend(&s.to_be_bytes()[4 - width..]);
            }
            let au_path = dir.path().join(format!("twin{bits}.au"));
            std::fs::write(&au_path, au).unwrap();
            for target in [None, Some(16_000)] {
                let a = crate::load(&au_path, target).unwrap();
                let b = crate::load(&wav, target).unwrap();
                assert_eq!(a.sample_rate_hz, b.sample_rate_hz);
                assert!(
                    a.samples == b.samples,
                    "{bits} bits, {target:?}: AU and WAV differ"
                );
                assert!(!a.samples.is_empty());
            }
            sox_twins(&wav, dir.path(), bits);
        }
    }

    /// Where sox is installed: its AU of the same WAV decodes alike, and its mu-law and A-law
    /// AU files decode as its mu-law and A-law WAV files do (read by symphonia).
    fn sox_twins(wav: &Path, dir: &Path, bits: u16) {
        use std::ffi::OsStr;
        let sox = |args: &[&OsStr]| std::process::Command::new("sox").args(args).status();
        let out = |name: &str| dir.join(format!("{bits}{name}"));
        let pcm = out("sox.au");
        if !sox(&[wav.as_os_str(), pcm.as_os_str()]).is_ok_and(|s| s.success()) {
            eprintln!("skipped: no sox");
            return;
        }
        let samples = |p: &Path| crate::load(p, None).unwrap().samples;
        assert!(
            samples(&pcm) == samples(wav),
            "sox's AU differs from the WAV"
        );
        for law in ["u-law", "a-law"] {
            let (au, twin) = (out(&format!("{law}.au")), out(&format!("{law}.wav")));
            for file in [&au, &twin] {
                // No dither: both files hold the same codes.
                let args: [&OsStr; 5] = [
                    "-D".as_ref(),
                    wav.as_os_str(),
                    "-e".as_ref(),
                    law.as_ref(),
                    file.as_os_str(),
                ];
                assert!(sox(&args).unwrap().success());
            }
            assert!(samples(&au) == samples(&twin), "{law}: AU and WAV differ");
        }
    }

    #[test]
    fn a_bad_header_is_named() {
        let err = to_wav(b".snd\0\0\0\x02", Path::new("x.au"))
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("x.au") && err.contains("24-byte header"),
            "{err}"
        );
        let err = to_wav(b"RIFF0000WAVEfmt 0000000000000000", Path::new("y.au"))
            .unwrap_err()
            .to_string();
        assert!(err.contains("no `.snd` magic"), "{err}");
    }
}
